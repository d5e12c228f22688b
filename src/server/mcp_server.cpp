#include "server/mcp_server.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <list>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server/mcp_tools.h"
#include "server/openai_protocol.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

using json = nlohmann::json;

const std::vector<std::string> kProtocolVersions = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"};

// JSON-RPC error codes.
constexpr int kParseError = -32700, kInvalidRequest = -32600, kMethodNotFound = -32601, kInvalidParams = -32602,
              kInternalError = -32603;

class Session {
 public:
  Session(std::ostream& out, const McpOptions& options) : out_(out), tools_(options.threads, options.device, options.allowed_dirs) {}

  ~Session() {
    for (auto& [id, flag] : in_flight_) flag->store(true);
    for (auto& w : workers_) w.thread.join();
  }

  // The input ended: every request received is answered before the server exits, as any
  // filter finishes its input (a pull_model still downloading completes and reports).
  void finish() {
    std::list<Worker> running;
    {
      std::lock_guard lock(mu_);
      running.swap(workers_);
    }
    for (auto& w : running) w.thread.join();
  }

  void handle_line(const std::string& line) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) return;
    if (json_nesting_exceeds(line, kMaxJsonDepth))
      return send_error(nullptr, kParseError, fmt::format("parse error: nested more than {} levels", kMaxJsonDepth));
    const json msg = json::parse(line, nullptr, false);
    if (msg.is_discarded()) return send_error(nullptr, kParseError, "parse error: not JSON");
    if (msg.is_array()) return send_error(nullptr, kInvalidRequest, "batches are not supported");
    if (!msg.is_object() || msg.value("jsonrpc", "") != "2.0")
      return send_error(msg.is_object() && msg.contains("id") ? msg["id"] : json(nullptr), kInvalidRequest, "not a JSON-RPC 2.0 message");
    if (!msg.contains("method")) return;  // a response to us (we send no requests)
    if (!msg["method"].is_string()) return send_error(msg.value("id", json(nullptr)), kInvalidRequest, "'method' must be a string");
    const std::string method = msg["method"];
    const json params = msg.value("params", json::object());
    if (!msg.contains("id")) return notification(method, params);
    const json id = msg["id"];
    if (!id.is_string() && !id.is_number_integer()) return send_error(nullptr, kInvalidRequest, "'id' must be a string or an integer");
    try {
      if (method == "initialize") return send_result(id, initialize(params));
      if (method == "ping") return send_result(id, json::object());
      if (method == "tools/list") return send_result(id, {{"tools", McpTools::list()}});
      if (method == "tools/call") return start_tool_call(id, params);
      send_error(id, kMethodNotFound, fmt::format("method '{}' is not supported", method));
    } catch (const ApiError& e) {
      send_error(id, kInvalidParams, e.what());
    } catch (const std::exception& e) {
      send_error(id, kInternalError, e.what());
    }
  }

 private:
  json initialize(const json& params) {
    const std::string asked = params.is_object() ? params.value("protocolVersion", "") : "";
    // Version negotiation: the client's revision when we speak it, else our latest.
    version_ = std::find(kProtocolVersions.begin(), kProtocolVersions.end(), asked) != kProtocolVersions.end()
                   ? asked : kProtocolVersions.front();
    return {{"protocolVersion", version_},
            {"capabilities", {{"tools", {{"listChanged", false}}}}},
            {"serverInfo", {{"name", "mlxcpp"}, {"title", "mlxcpp — mlx-community models on Linux"}, {"version", "0.1.0"}}},
            {"instructions", "Local LLM inference for MLX-format models. Use recommend_model to pick a model that fits, "
                             "pull_model to download it, generate to run it; list_models and resolve_model check ids."}};
  }

  void notification(const std::string& method, const json& params) {
    if (method == "notifications/cancelled" && params.is_object() && params.contains("requestId")) {
      std::lock_guard lock(mu_);
      if (auto it = in_flight_.find(params["requestId"].dump()); it != in_flight_.end()) it->second->store(true);
    }
    // notifications/initialized and others need no answer.
  }

  void start_tool_call(const json& id, const json& params) {
    if (!params.is_object() || !params.contains("name") || !params["name"].is_string())
      return send_error(id, kInvalidParams, "tools/call needs a string 'name'");
    const std::string name = params["name"];
    const json args = params.value("arguments", json::object());
    json token = nullptr;
    if (params.contains("_meta") && params["_meta"].is_object() && params["_meta"].contains("progressToken"))
      token = params["_meta"]["progressToken"];
    auto flag = std::make_shared<std::atomic<bool>>(false);
    {
      std::lock_guard lock(mu_);
      in_flight_[id.dump()] = flag;
    }
    // Tools run on their own threads so that pings and cancellations keep flowing.
    std::lock_guard lock(mu_);
    for (auto it = workers_.begin(); it != workers_.end();) {  // reap finished ones
      if (it->finished->load()) {
        it->thread.join();
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    auto finished = std::make_shared<std::atomic<bool>>(false);
    workers_.push_back({std::thread([this, id, name, args, token, flag, finished] {
      ProgressFn progress = [this, token](double done, double total, const std::string& message) {
        if (token.is_null()) return;
        json p = {{"progressToken", token}, {"progress", done}, {"message", message}};
        if (total > 0) p["total"] = total;
        send({{"jsonrpc", "2.0"}, {"method", "notifications/progress"}, {"params", p}});
      };
      try {
        const ToolResult r = tools_.call(name, args, progress, *flag);
        json result = {{"content", json::array({{{"type", "text"}, {"text", r.text}}})}, {"isError", r.is_error}};
        if (version_ >= "2025-06-18" && r.structured.is_object()) result["structuredContent"] = r.structured;
        if (!flag->load()) send_result(id, result);  // a cancelled request gets no answer
      } catch (const ApiError& e) {
        send_error(id, e.type() == "unknown_tool" ? kInvalidParams : kInvalidParams, e.what());
      } catch (const std::exception& e) {
        send_error(id, kInternalError, e.what());
      }
      {
        std::lock_guard l(mu_);
        in_flight_.erase(id.dump());
      }
      finished->store(true);
    }), finished});
  }

  void send_result(const json& id, const json& result) { send({{"jsonrpc", "2.0"}, {"id", id}, {"result", result}}); }

  void send_error(const json& id, int code, const std::string& message) {
    send({{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
  }

  void send(const json& msg) {
    const std::string line = msg.dump(-1, ' ', false, json::error_handler_t::replace);  // no raw newlines inside
    std::lock_guard lock(out_mu_);
    out_ << line << '\n';
    out_.flush();
  }

  std::ostream& out_;
  McpTools tools_;
  std::string version_ = kProtocolVersions.front();
  std::mutex mu_, out_mu_;
  std::map<std::string, std::shared_ptr<std::atomic<bool>>> in_flight_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };
  std::list<Worker> workers_;
};

}  // namespace

int run_mcp_server(std::istream& in, std::ostream& out, const McpOptions& options) {
  Session session(out, options);
  std::string line;
  while (std::getline(in, line)) session.handle_line(line);
  session.finish();
  return 0;
}

}  // namespace mlxcpp
