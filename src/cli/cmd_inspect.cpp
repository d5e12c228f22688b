#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "model/model_report.h"

namespace mlxcpp::cli {

void register_inspect(CLI::App& app) {
  struct Opts {
    std::string model;
    bool json = false;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("inspect", "Describe a model: architecture, parameters, quantization, memory");
  cmd->add_option("model", opts->model, "Model directory or repo id (default: the bundled model)");
  cmd->add_flag("--json", opts->json, "Print one JSON object");
  cmd->callback([opts] {
    const ModelReport r = build_model_report(locate_model_or_bundled(opts->model));
    if (opts->json) std::printf("%s\n", model_report_to_json(r).dump(2).c_str());
    else std::fputs(model_report_to_text(r).c_str(), stdout);
  });
}

}  // namespace mlxcpp::cli
