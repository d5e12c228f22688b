// `mlxcpp serve`: the OpenAI-compatible HTTP API over cpp-httplib. Safe by default: binds
// 127.0.0.1, Bearer auth with a constant-time compare when an API key is set, a body size
// limit, a max_tokens cap, a per-request time limit, CORS only when asked for.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "server/metrics.h"
#include "server/model_registry.h"
#include "server/openai_protocol.h"

namespace mlxcpp {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;         // empty: no auth
  size_t body_limit = 1 << 20;
  double request_timeout_s = 600;
  int64_t ctx = 0;             // per-request context cap (0: the model's)
  std::string cors_origin;     // empty: no CORS headers
  int http_threads = 64;       // connections served at once
  bool quiet = false;          // no access log lines on stderr
  ApiLimits limits;
};

// Why binding host:port fails ("Address already in use", ...), found by trying it.
std::string bind_failure(const std::string& host, int port);

class HttpServer {
 public:
  HttpServer(ServerOptions options, std::shared_ptr<ModelRegistry> registry);
  ~HttpServer();
  // Binds (port 0: any free port) and serves until stop(). Returns false if binding failed.
  bool bind();
  int port() const;
  void listen();  // blocks
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Constant-time comparison (the API key check).
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace mlxcpp
