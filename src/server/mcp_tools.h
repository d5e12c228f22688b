// The tools the MCP server offers: their JSON Schemas and their implementations over the
// same library calls as the CLI (catalogue, resolver, recommend, hardware, pull, engine).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "server/model_registry.h"

namespace mlxcpp {

// Sends a progress notification (done, total, message) when the client asked for them.
using ProgressFn = std::function<void(double progress, double total, const std::string& message)>;

// A tool's answer: JSON for structuredContent and a text rendering; is_error marks a
// failure the model should see (not a protocol error).
struct ToolResult {
  nlohmann::json structured;
  std::string text;
  bool is_error = false;
};

class McpTools {
 public:
  McpTools(int threads, Device device, std::vector<std::filesystem::path> allowed_dirs = {})
      : threads_(threads), device_(device), allowed_dirs_(std::move(allowed_dirs)) {}
  static nlohmann::json list();  // the tools/list "tools" array
  // Throws ApiError(400) for invalid arguments (a JSON-RPC invalid-params error).
  ToolResult call(const std::string& name, const nlohmann::json& arguments, const ProgressFn& progress,
                  const std::atomic<bool>& cancelled);

 private:
  ToolResult generate(const nlohmann::json& args, const ProgressFn& progress, const std::atomic<bool>& cancelled);
  ToolResult compat(const nlohmann::json& args, const ProgressFn& progress, const std::atomic<bool>& cancelled);
  std::shared_ptr<ModelHost> host_for(const std::string& model);

  int threads_;
  Device device_;
  std::vector<std::filesystem::path> allowed_dirs_;
  std::mutex mu_;
  std::shared_ptr<ModelRegistry> registry_;  // created on the first generate
};

}  // namespace mlxcpp
