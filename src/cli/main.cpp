// mlxcpp command-line front end. Errors from the library arrive as mlxcpp::Error and
// leave with a one-line message on stderr and exit status 1; usage errors exit 2.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "hub/hf_cache.h"
#include "util/error.h"

namespace mlxcpp::cli {

std::string bundled_model_dir() {
  // Next to the binary's source tree (a build from the repo), overridable for installs.
  if (const char* env = std::getenv("MLXCPP_BUNDLED_MODEL")) return env;
  return std::string(MLXCPP_SOURCE_DIR) + "/models/fortune-tiny-mlx-4bit-g64";
}

std::filesystem::path locate_model_or_bundled(const std::string& model) {
  return locate_model(model.empty() ? bundled_model_dir() : model);
}

}  // namespace mlxcpp::cli

int main(int argc, char** argv) {
  CLI::App app{"mlxcpp — run mlx-community models on Linux CPUs and NVIDIA GPUs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mlxcpp 0.1.0");
  mlxcpp::cli::register_inspect(app);
  mlxcpp::cli::register_convert(app);
  mlxcpp::cli::register_synth(app);
  mlxcpp::cli::register_tokenize(app);
  mlxcpp::cli::register_detokenize(app);
  mlxcpp::cli::register_generate(app);
  mlxcpp::cli::register_perplexity(app);
  mlxcpp::cli::register_template(app);
  mlxcpp::cli::register_bench(app);
  mlxcpp::cli::register_list(app);
  mlxcpp::cli::register_resolve(app);
  mlxcpp::cli::register_hw(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const mlxcpp::Error& e) {
    std::fprintf(stderr, "mlxcpp: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlxcpp: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
