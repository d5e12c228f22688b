// `mcp`: the Model Context Protocol server on stdin/stdout (server/mcp_server.h).
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "server/mcp_server.h"

namespace mlxcpp::cli {

void register_mcp(CLI::App& app) {
  auto o = std::make_shared<McpOptions>();
  auto* cmd = app.add_subcommand("mcp", "MCP server on stdio for AI assistants (tools: list_models, resolve_model, "
                                        "recommend_model, hardware_info, pull_model, generate, mlx)");
  cmd->add_option("--threads", o->threads, "Engine threads for generate (default: all cores)");
  cmd->callback([o] {
    std::fprintf(stderr, "mlxcpp: MCP server on stdio\n");
    std::ios::sync_with_stdio(false);
    std::exit(run_mcp_server(std::cin, std::cout, *o));
  });
}

}  // namespace mlxcpp::cli
