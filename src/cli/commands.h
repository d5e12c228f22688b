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

// The model shipped in the repository, used when no -m is given.
std::string bundled_model_dir();

// The directory of MODEL (a directory or a cached repo id), or the bundled model when
// MODEL is empty.
std::filesystem::path locate_model_or_bundled(const std::string& model);

}  // namespace mlxcpp::cli
