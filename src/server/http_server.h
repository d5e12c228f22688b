// `mlxcpp serve`: the OpenAI-compatible HTTP API, over the event-driven front of
// server/http_front.h. Safe by default: binds 127.0.0.1, Bearer auth with a constant-time
// compare when an API key is set, a body size limit (after decoding), header and body
// time limits, connection caps, a max_tokens cap, a per-request time limit (504), CORS
// only when asked for.
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
  double header_timeout_s = 10;  // a request's head must arrive within this
  double body_timeout_s = 60;    // and its body within this
  int max_connections = 4096;
  int max_connections_per_address = 256;
  bool quiet = false;          // no access log lines on stderr
  ApiLimits limits;
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, std::shared_ptr<ModelRegistry> registry);
  ~HttpServer();
  // Binds (port 0: any free port); false if that failed, and bind_error() says why
  // ("Address already in use", ...).
  bool bind();
  const std::string& bind_error() const;
  int port() const;
  void listen();  // blocks until stop(), SIGINT or SIGTERM
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Constant-time comparison (the API key check).
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace mlxcpp
