// `mcp`: the Model Context Protocol server on stdin/stdout (server/mcp_server.h).
#include <cstdio>
#include <iostream>

#include "backend/device_info.h"
#include "cli/commands.h"
#include "server/mcp_server.h"

namespace mlxcpp::cli {

void register_mcp(CLI::App& app) {
  auto o = std::make_shared<McpOptions>();
  auto* cmd = app.add_subcommand("mcp", "MCP server on stdio for AI assistants (tools: list_models, resolve_model, "
                                        "recommend_model, hardware_info, pull_model, generate, mlx)");
  auto device = std::make_shared<std::string>("auto");
  cmd->add_option("--threads", o->threads, "Engine threads for generate (default: all cores)");
  cmd->add_option("--device", *device, "Where generate runs: auto (CUDA when a GPU can), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
      ->capture_default_str();
  auto dirs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--allow-paths", *dirs, "Let generate name model directories inside these directories")
      ->expected(1, -1)->type_name("DIR…")->check(CLI::ExistingDirectory);
  cmd->callback([o, device, dirs] {
    for (const auto& d : *dirs) o->allowed_dirs.emplace_back(d);
    o->device = resolve_device(*device);
    std::fprintf(stderr, "mlxcpp: MCP server on stdio\n");
    std::ios::sync_with_stdio(false);
    std::exit(run_mcp_server(std::cin, std::cout, *o));
  });
}

}  // namespace mlxcpp::cli
