// `mlxcpp mcp`: a Model Context Protocol server on stdio (JSON-RPC 2.0, one message per
// line; protocol revisions 2024-11-05 to 2025-11-25, negotiated at initialize). stdout
// carries protocol messages only; logs go to stderr. Tools: list_models, resolve_model,
// recommend_model, hardware_info, pull_model (with progress), generate (with progress and
// cancellation), and `mlx`, the compatibility tool of the original MLX integration.
#pragma once

#include <filesystem>
#include <vector>

#include <istream>
#include "backend/device_info.h"
#include <ostream>

namespace mlxcpp {

struct McpOptions {
  int threads = 0;  // engine threads for generate
  Device device = Device::Cpu;  // where generate runs
  std::vector<std::filesystem::path> allowed_dirs;  // model directories generate may name (--allow-paths)
};

// Serves until `in` ends; returns the process exit status.
int run_mcp_server(std::istream& in, std::ostream& out, const McpOptions& options);

}  // namespace mlxcpp
