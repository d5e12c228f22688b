// Fuzzes the HTTP front as clients reach it: a real web::Front on loopback (started once)
// takes each input as the bytes of one connection — heads, bodies in any framing and
// encoding, pipelined requests, garbage — followed by a half-close, and answers what it
// can; the test is that it never crashes and keeps serving (the next connection works).
// The handler answers whole, streamed and from another thread, as the real ones do. The
// bounded inflater is also fed each input directly.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "server/http_front.h"

namespace {

using namespace mlxcpp::web;

int start_front() {
  static Front* front = [] {
    FrontOptions o;
    o.port = 0;
    o.body_limit = 4096;
    o.header_limit = 2048;
    o.header_timeout_s = 2;
    o.body_timeout_s = 2;
    auto* f = new Front(o, [](Request& req, std::shared_ptr<Reply> reply) {
      if (req.path == "/stream") {
        reply->start_stream({200, "text/event-stream", "", {}});
        for (int i = 0; i < 3; ++i) reply->write("data: " + std::to_string(req.body.size()) + "\n\n");
        reply->end();
      } else if (req.path == "/later") {
        std::thread([reply, n = req.body.size()] { reply->send({200, "text/plain", std::to_string(n), {}}); }).detach();
      } else {
        reply->send({200, "text/plain", req.method + " " + req.path + " " + std::to_string(req.body.size()),
                     {{"X-Echo", req.header("X-Echo")}}});
      }
    });
    if (!f->bind().empty()) __builtin_trap();
    std::thread([f] { f->run(); }).detach();
    return f;
  }();
  return front->port();
}

int connect_to(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {  // the front stopped serving
    std::fprintf(stderr, "fuzz_http_front: connect: %s\n", std::strerror(errno));
    __builtin_trap();
  }
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int port = start_front();
  const int fd = connect_to(port);
  size_t sent = 0;
  while (sent < size) {
    const ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += size_t(n);
  }
  shutdown(fd, SHUT_WR);
  char buf[4096];
  while (recv(fd, buf, sizeof buf, 0) > 0) {
  }
  // This side sent the first FIN, so a plain close would hold its port in TIME_WAIT for a
  // minute, and whether the kernel lends such ports again depends on its settings: at a
  // thousand inputs a second the ephemeral ports could run out. The exchange is over (the
  // front closed, or the wait ran out): end with a reset, which frees the port at once.
  const linger no_time_wait{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_time_wait, sizeof no_time_wait);
  close(fd);
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::string out;
  for (const char* encoding : {"gzip", "deflate"}) (void)inflate_body(encoding, in, 1 << 16, out);
  return 0;
}
