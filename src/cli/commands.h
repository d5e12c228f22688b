// Each subcommand lives in its own cmd_*.cpp and registers itself on the CLI11 app:
// options are declared exactly once, and CLI11 derives parsing, defaults and help.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

namespace mlxcpp::cli {

void register_inspect(CLI::App& app);
void register_convert(CLI::App& app);
void register_synth(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_detokenize(CLI::App& app);
void register_generate(CLI::App& app);
void register_perplexity(CLI::App& app);
void register_template(CLI::App& app);
void register_bench(CLI::App& app);
void register_list(CLI::App& app);
void register_resolve(CLI::App& app);
void register_hw(CLI::App& app);
void register_recommend(CLI::App& app);
void register_search(CLI::App& app);
void register_pull(CLI::App& app);
void register_serve(CLI::App& app);
void register_mcp(CLI::App& app);
void register_chat(CLI::App& app);

// The directory of MODEL: a directory, a cached repo id, or a repo id downloaded after the
// resolver and the fit check (runtime/model_source.h); "" means the catalogue default when
// cached, else the bundled model, saying which on stderr.
std::filesystem::path find_model(const std::string& model);

// As find_model, but never downloads, and "" means the bundled model (commands that inspect files).
std::filesystem::path locate_model_or_bundled(const std::string& model);

}  // namespace mlxcpp::cli
