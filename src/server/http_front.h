// The network side of `mlxcpp serve`: HTTP/1.1 on one event loop (Boost.Asio + Beast's
// parser), made to hold on a hostile network. No thread waits on a connection, so slow
// or idle clients cost a socket and a few kilobytes, not a worker:
//  - a request's head must arrive within header_timeout_s and its body within
//    body_timeout_s (slowloris), replies must drain within write_timeout_s;
//  - connections are capped overall and per client address;
//  - the body limit holds for the bytes after chunked framing and after Content-Encoding
//    (gzip/deflate inflated with a bound), checked before the handler (and so before
//    authentication) sees anything;
//  - pipelined requests are answered in order; a client that half-closes after its
//    request gets its answer; one that goes away is noticed while its reply is pending
//    (a read that sees the close, then, for a half-close, a probe: see docs/server.md);
//  - TCP_NODELAY on every connection (streamed tokens go out as they come).
// Handlers run on a small worker pool and answer through a Reply, from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlxcpp::web {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method, target, path;  // path: the target without its query
  Headers headers;
  std::string body;  // after chunked framing and Content-Encoding
  std::string peer;  // the client's address
  // A header's value ("" when absent); names compare case-insensitively.
  std::string header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;
};

// The answer to one request. Every method may be called from any thread; calls after the
// reply ended or the client went away do nothing.
class Reply {
 public:
  virtual ~Reply() = default;
  // The whole reply.
  virtual void send(Response r) = 0;
  // A streamed reply (text/event-stream): the head now (head.body is ignored), then
  // pieces with write(), then end().
  virtual void start_stream(Response head) = 0;
  virtual void write(std::string piece) = 0;
  virtual void end() = 0;
  // Whether the client went away before the reply ended.
  virtual bool gone() const = 0;
  // `f` runs once, on the event loop, when the client goes away before the reply ended
  // (at once if it already has). It must not block.
  virtual void on_gone(std::function<void()> f) = 0;
  // `f` runs on the event loop at `when` unless the connection closed by then. It must
  // not block.
  virtual void at(std::chrono::steady_clock::time_point when, std::function<void()> f) = 0;
};

using Handler = std::function<void(Request&, std::shared_ptr<Reply>)>;

struct FrontOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  size_t header_limit = 16 << 10;
  size_t body_limit = 1 << 20;
  double header_timeout_s = 10;
  double body_timeout_s = 60;
  double write_timeout_s = 60;
  int max_connections = 4096;
  int max_connections_per_address = 256;
  int workers = 4;  // threads that run handlers
  // The body of the front's own error replies (400, 408, 413, 415, 431, 503).
  std::function<Response(int status, const std::string& message)> error_reply;
};

class Front {
 public:
  Front(FrontOptions options, Handler handler);
  ~Front();
  // Binds and listens; "" on success, else why not ("Address already in use", ...).
  std::string bind();
  int port() const;
  // Serves until stop() or SIGINT/SIGTERM.
  void run();
  void stop();

  struct Impl;  // opaque (http_front.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

// Inflates a gzip or deflate body into `out`, at most `limit` bytes of it. Exposed for
// the fuzzer.
enum class Inflate { Ok, TooLarge, Malformed };
Inflate inflate_body(std::string_view encoding, const std::string& in, size_t limit, std::string& out);

// A path segment with its %XX escapes decoded (a malformed escape is kept as it is).
std::string percent_decode(std::string_view s);

}  // namespace mlxcpp::web
