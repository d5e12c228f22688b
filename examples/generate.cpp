// A program using mlxcpp as a library through its C++ header: loads a model (a directory,
// a cached repo id, or the default), asks which model this machine should run, and
// streams a chat answer.
//   generate_example [MODEL] [PROMPT]
#include <mlxcpp/mlxcpp.hpp>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  try {
    const std::string model = argc > 1 ? argv[1] : "";
    const std::string prompt = argc > 2 ? argv[2] : "Tell me a fortune.";
    mlxcpp::Model m(model);
    std::printf("context: %lld tokens; prompt: %zu tokens\n", static_cast<long long>(m.context_length()),
                m.tokenize(prompt).size());
    mlxcpp::GenerateOptions options;
    options.max_tokens = 32;
    options.temperature = 0;
    const mlxcpp::Generation g = m.generate(prompt, options, [](const std::string& piece) {
      std::fputs(piece.c_str(), stdout);
      std::fflush(stdout);
      return true;
    });
    std::printf("\n[%lld tokens, %s, %.1f tokens/s]\n", static_cast<long long>(g.generation_tokens), g.finish_reason.c_str(),
                g.generation_tps);
    return 0;
  } catch (const mlxcpp::Failure& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
