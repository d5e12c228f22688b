// mlxcpp command-line front end. Errors from the library arrive as mlxcpp::Error and
// leave with a one-line message on stderr and exit status 1; usage errors exit 2.
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "runtime/tuning.h"
#include "cli/progress.h"
#include "runtime/model_source.h"
#include "util/error.h"

namespace mlxcpp::cli {

namespace {

std::filesystem::path find_model(const std::string& model, bool allow_download) {
  ModelRequest request;
  request.spec = model;
  request.allow_download = allow_download;
  request.on_progress = pull_progress_printer();
  request.on_note = [](const std::string& text) { std::fprintf(stderr, "mlxcpp: %s\n", text.c_str()); };
  return find_or_pull_model(request).dir;
}

}  // namespace

std::filesystem::path find_model(const std::string& model) { return find_model(model, true); }

std::filesystem::path locate_model_or_bundled(const std::string& model) {
  return model.empty() ? bundled_model_dir() : find_model(model, false);
}

}  // namespace mlxcpp::cli

int main(int argc, char** argv) {
  mlxcpp::apply_tuning(mlxcpp::tuning_from_environment());
  CLI::App app{"mlxcpp — run mlx-community models on Linux CPUs and NVIDIA GPUs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mlxcpp 0.1.0");
  mlxcpp::cli::register_inspect(app);
  mlxcpp::cli::register_convert(app);
  mlxcpp::cli::register_synth(app);
  mlxcpp::cli::register_tokenize(app);
  mlxcpp::cli::register_detokenize(app);
  mlxcpp::cli::register_generate(app);
  mlxcpp::cli::register_chat(app);
  mlxcpp::cli::register_perplexity(app);
  mlxcpp::cli::register_template(app);
  mlxcpp::cli::register_bench(app);
  mlxcpp::cli::register_list(app);
  mlxcpp::cli::register_resolve(app);
  mlxcpp::cli::register_hw(app);
  mlxcpp::cli::register_recommend(app);
  mlxcpp::cli::register_search(app);
  mlxcpp::cli::register_pull(app);
  mlxcpp::cli::register_serve(app);
  mlxcpp::cli::register_mcp(app);
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
