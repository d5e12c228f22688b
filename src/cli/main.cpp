// mlxcpp command-line front end. Errors from the library arrive as mlxcpp::Error and
// leave with a one-line message on stderr and exit status 1; usage errors exit 2.
#include <cstdio>
#include <vector>
#include <string>
#include <optional>
#include <algorithm>
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

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

// The first argument when it names no command (and is no option): an error that names it and
// the nearest commands, exit status 2. `help COMMAND` prints that command's help.
std::optional<int> check_command(CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return std::nullopt;
  const std::string word = argv[1];
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
  if (word == "help") {
    if (argc < 3) {
      std::printf("%s", app.help().c_str());
      return 0;
    }
    for (CLI::App* sub : app.get_subcommands({}))
      if (sub->get_name() == argv[2]) {
        std::printf("%s", sub->help().c_str());
        return 0;
      }
  }
  const std::string& asked = word == "help" ? std::string(argv[2]) : word;
  if (std::find(names.begin(), names.end(), asked) != names.end()) return std::nullopt;
  std::vector<std::pair<size_t, std::string>> near;
  for (const std::string& n : names) near.emplace_back(edit_distance(asked, n), n);
  std::sort(near.begin(), near.end());
  std::string suggestions;
  for (size_t i = 0; i < near.size() && near[i].first <= std::max<size_t>(2, asked.size() / 3); ++i)
    suggestions += (suggestions.empty() ? "" : ", ") + near[i].second;
  std::fprintf(stderr, "mlxcpp: error: '%s' is not a command%s%s (mlxcpp --help lists them)\n", asked.c_str(),
               suggestions.empty() ? "" : "; did you mean: ", suggestions.c_str());
  return 2;
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
  if (const std::optional<int> status = mlxcpp::cli::check_command(app, argc, argv)) return *status;
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
