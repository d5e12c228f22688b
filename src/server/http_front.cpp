#include "server/http_front.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <zlib.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <deque>
#include <optional>
#include <unordered_map>

namespace mlxcpp::web {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// Header values may echo what a client sent (CORS): never let one end the line.
std::string header_safe(std::string_view v) {
  std::string out;
  for (char c : v)
    if (c != '\r' && c != '\n') out += c;
  return out;
}

std::chrono::nanoseconds seconds(double s) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(s));
}

// Whether the peer of a connection whose reading side has seen EOF is gone for good: after
// our probe its kernel answers with a reset, which moves the socket to TCP_CLOSE.
bool peer_reset(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return true;
  return info.tcpi_state == TCP_CLOSE;
}

}  // namespace

std::string Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return "";
}

std::string percent_decode(std::string_view s) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += char(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Inflate inflate_body(std::string_view encoding, const std::string& in, size_t limit, std::string& out) {
  z_stream z{};
  // gzip, or deflate as HTTP defines it (zlib-wrapped; 32 also accepts a gzip header).
  if (inflateInit2(&z, encoding == "gzip" ? 16 + MAX_WBITS : 32 + MAX_WBITS) != Z_OK) return Inflate::Malformed;
  out.clear();
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = uInt(in.size());
  char buf[16384];
  Inflate result = Inflate::Ok;
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    const int rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      result = Inflate::Malformed;  // Z_BUF_ERROR here: the input ended inside the stream
      break;
    }
    const size_t got = sizeof buf - z.avail_out;
    if (out.size() + got > limit) {
      result = Inflate::TooLarge;
      break;
    }
    out.append(buf, got);
    if (rc == Z_STREAM_END) {
      if (z.avail_in != 0) result = Inflate::Malformed;  // bytes after the stream
      break;
    }
  }
  inflateEnd(&z);
  if (result != Inflate::Ok) out.clear();
  return result;
}

class Session;

// Members in destruction order: the io_context's pending handlers (which hold the
// sessions) go before the accounting they update.
struct Front::Impl {
  FrontOptions opt;
  Handler handler;
  std::unordered_map<std::string, int> per_address;  // loop thread only
  std::atomic<int64_t> open{0};
  int port = 0;
  net::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  net::signal_set signals{ioc};
  net::steady_timer accept_retry{ioc};
  net::thread_pool workers;

  Impl(FrontOptions o, Handler h)
      : opt(std::move(o)), handler(std::move(h)), workers(size_t(std::max(1, opt.workers))) {
    if (!opt.error_reply)
      opt.error_reply = [](int status, const std::string& message) {
        return Response{status, "text/plain; charset=utf-8", message + "\n", {}};
      };
  }
  void accept();
  void release(const std::string& peer) {
    if (--per_address[peer] <= 0) per_address.erase(peer);
    --open;
  }
};

// The reply to the request a Session is handling; its methods post to the event loop.
class ReplyImpl final : public Reply, public std::enable_shared_from_this<ReplyImpl> {
 public:
  // A pending reply keeps its session alive (nothing else may be waiting on it: a
  // half-closed client's connection has no read pending) until it ends or the client goes.
  ReplyImpl(std::shared_ptr<Session> s, net::io_context::executor_type ex) : session_(s), hold_(std::move(s)), ex_(ex) {}
  void send(Response r) override;
  void start_stream(Response head) override;
  void write(std::string piece) override;
  void end() override;
  bool gone() const override { return gone_.load(); }
  void on_gone(std::function<void()> f) override {
    net::post(ex_, [self = shared_from_this(), f = std::move(f)]() mutable {
      if (self->gone_) f();
      else if (!self->ended_) self->gone_fns_.push_back(std::move(f));
    });
  }
  void at(Clock::time_point when, std::function<void()> f) override {
    net::post(ex_, [self = shared_from_this(), when, f = std::move(f)]() mutable {
      if (self->ended_ || self->gone_) return;
      auto timer = std::make_shared<net::steady_timer>(self->ex_, when);
      self->timers_.push_back(timer);
      timer->async_wait([self, timer, f = std::move(f)](const error_code& ec) {
        std::erase(self->timers_, timer);
        if (!ec && !self->ended_ && !self->gone_) f();
      });
    });
  }

  // Loop thread only.
  void mark_gone() {
    if (ended_ || gone_) return;
    gone_ = true;
    finish();
    auto fns = std::move(gone_fns_);
    for (auto& f : fns) f();
  }
  void mark_ended() {
    if (ended_) return;
    ended_ = true;
    finish();
    gone_fns_.clear();
  }
  bool ended() const { return ended_; }

 private:
  template <typename F>
  void post(F f);
  void finish() {
    for (auto& t : timers_) t->cancel();
    timers_.clear();
    hold_.reset();
  }

  std::weak_ptr<Session> session_;
  std::shared_ptr<Session> hold_;
  net::io_context::executor_type ex_;
  std::atomic<bool> gone_{false}, ended_{false};
  std::vector<std::function<void()>> gone_fns_;
  std::vector<std::shared_ptr<net::steady_timer>> timers_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Front::Impl* front, tcp::socket sock, std::string peer)
      : front_(front),
        sock_(std::move(sock)),
        peer_(std::move(peer)),
        read_deadline_(sock_.get_executor()),
        write_deadline_(sock_.get_executor()),
        probe_timer_(sock_.get_executor()) {}
  ~Session() { front_->release(peer_); }

  void start() { read_head(); }

  // From ReplyImpl, on the loop thread.
  void send_whole(ReplyImpl* r, Response resp) {
    if (!current(r) || streaming_) return;
    queue(head(resp, resp.body.size()) + resp.body);
    reply_done();
  }
  void send_head(ReplyImpl* r, Response resp) {
    if (!current(r) || streaming_) return;
    streaming_ = true;
    if (!http11_) keep_alive_ = false;  // HTTP/1.0: the body ends with the connection
    queue(head(resp, std::nullopt));
  }
  void send_piece(ReplyImpl* r, std::string piece) {
    if (!current(r) || !streaming_ || piece.empty()) return;
    queue(chunk(piece));
    // A client that does not read what it asked for is not buffered for without end.
    if (out_bytes_ > kMaxQueued) close();
  }
  void send_end(ReplyImpl* r) {
    if (!current(r) || !streaming_) return;
    if (http11_) queue("0\r\n\r\n");
    reply_done();
  }

 private:
  static constexpr size_t kMaxQueued = 16 << 20;
  enum class Phase { Head, Body, Handling, Draining };

  bool current(ReplyImpl* r) const { return !closed_ && reply_ && reply_.get() == r && !reply_->ended(); }

  std::string chunk(const std::string& piece) const {
    if (!http11_) return piece;
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    return size + piece + "\r\n";
  }

  std::string head(const Response& r, std::optional<size_t> length) const {
    std::string h = http11_ ? "HTTP/1.1 " : "HTTP/1.0 ";
    h += std::to_string(r.status) + " " + std::string(http::obsolete_reason(http::int_to_status(unsigned(r.status)))) + "\r\n";
    h += "Content-Type: " + header_safe(r.content_type) + "\r\n";
    for (const auto& [k, v] : r.headers) h += header_safe(k) + ": " + header_safe(v) + "\r\n";
    if (length) h += "Content-Length: " + std::to_string(*length) + "\r\n";
    else if (http11_) h += "Transfer-Encoding: chunked\r\n";
    if (!keep_alive_) h += "Connection: close\r\n";
    else if (!http11_) h += "Connection: keep-alive\r\n";
    return h + "\r\n";
  }

  // The front's own answer (a malformed or over-limit request), then the connection ends:
  // what the client sent after it cannot be trusted to be framed right.
  void refuse(int status, const std::string& message) {
    keep_alive_ = false;
    refused_ = true;
    const Response r = front_->opt.error_reply(status, message);
    queue(head(r, r.body.size()) + r.body);
    phase_ = Phase::Draining;
  }

  void refuse_too_large(const char* when) {
    refuse(413, "request body larger than " + std::to_string(front_->opt.body_limit) + " bytes" + when);
  }

  void arm_read_deadline(double s) {
    read_deadline_.expires_after(seconds(s));
    read_deadline_.async_wait([w = weak_from_this()](const error_code& ec) {
      if (auto self = w.lock(); self && !ec) self->on_read_timeout();
    });
  }

  void on_read_timeout() {
    if (closed_ || (phase_ != Phase::Head && phase_ != Phase::Body)) return;
    if (phase_ == Phase::Body && !writing_) {
      reading_ = false;
      sock_.cancel();
      refuse(408, "the request body did not arrive in time");
      return;
    }
    close();
  }

  void read_head() {
    phase_ = Phase::Head;
    parser_.emplace();
    parser_->header_limit(uint32_t(front_->opt.header_limit));
    parser_->body_limit(uint64_t(front_->opt.body_limit));
    arm_read_deadline(front_->opt.header_timeout_s);
    reading_ = true;
    http::async_read_header(sock_, buf_, *parser_, [self = shared_from_this()](const error_code& ec, size_t) {
      self->reading_ = false;
      self->on_head(ec);
    });
  }

  void on_head(const error_code& ec) {
    if (closed_ || phase_ != Phase::Head) return;
    if (ec) {
      read_deadline_.cancel();
      if (ec == http::error::header_limit) return refuse(431, "request head larger than the limit");
      if (ec == http::error::body_limit)  // the parser checks Content-Length with the head
        return refuse_too_large("");
      if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::operation_aborted ||
          ec == net::error::connection_reset)
        return close();
      return refuse(400, "malformed request: " + ec.message());
    }
    const auto& req = parser_->get();
    if (const auto length = parser_->content_length(); length && *length > front_->opt.body_limit)
      return refuse_too_large("");
    if (iequals(std::string(req[http::field::expect]), "100-continue") && req.version() == 11)
      queue("HTTP/1.1 100 Continue\r\n\r\n");
    phase_ = Phase::Body;
    arm_read_deadline(front_->opt.body_timeout_s);
    reading_ = true;
    http::async_read(sock_, buf_, *parser_, [self = shared_from_this()](const error_code& ec, size_t) {
      self->reading_ = false;
      self->on_body(ec);
    });
  }

  void on_body(const error_code& ec) {
    if (closed_ || phase_ != Phase::Body) return;
    read_deadline_.cancel();
    if (ec) {
      if (ec == http::error::body_limit)
        return refuse_too_large("");
      if (ec == net::error::operation_aborted || ec == net::error::eof || ec == http::error::partial_message ||
          ec == net::error::connection_reset)
        return close();
      return refuse(400, "malformed request body: " + ec.message());
    }
    auto msg = parser_->release();
    parser_.reset();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    req.path = req.target.substr(0, req.target.find('?'));
    req.peer = peer_;
    for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    const std::string encoding = std::string(msg[http::field::content_encoding]);
    if (encoding.empty() || iequals(encoding, "identity")) {
      req.body = std::move(msg.body());
    } else if (iequals(encoding, "gzip") || iequals(encoding, "deflate")) {
      const Inflate r = inflate_body(iequals(encoding, "gzip") ? "gzip" : "deflate", msg.body(), front_->opt.body_limit, req.body);
      if (r == Inflate::TooLarge)
        return refuse_too_large(" once decoded");
      if (r == Inflate::Malformed) return refuse(400, "the " + encoding + " request body does not decode");
    } else {
      return refuse(415, "Content-Encoding " + encoding + " is not supported (gzip, deflate)");
    }
    http11_ = msg.version() >= 11;
    keep_alive_ = msg.keep_alive();
    streaming_ = false;
    phase_ = Phase::Handling;
    reply_ = std::make_shared<ReplyImpl>(shared_from_this(), front_->ioc.get_executor());
    net::post(front_->workers, [front = front_, reply = reply_, req = std::move(req)]() mutable {
      try {
        front->handler(req, reply);
      } catch (const std::exception& e) {
        reply->send(front->opt.error_reply(500, e.what()));
      }
    });
    watch();
  }

  // While a reply is pending: read on, so that a close is seen at once; what arrives is
  // the next pipelined request, kept (up to one request's worth) for after this reply.
  void watch() {
    if (closed_ || reading_ || phase_ != Phase::Handling || peer_eof_) return;
    if (buf_.size() >= front_->opt.header_limit + front_->opt.body_limit) return;
    reading_ = true;
    sock_.async_read_some(buf_.prepare(4096), [self = shared_from_this()](const error_code& ec, size_t n) {
      self->reading_ = false;
      self->buf_.commit(n);
      self->on_watch(ec);
    });
  }

  void on_watch(const error_code& ec) {
    if (closed_) return;
    if (!ec) {
      if (phase_ == Phase::Handling) watch();
      else if (phase_ == Phase::Draining && !writing_) next_request();
      return;
    }
    if (ec == net::error::operation_aborted) {
      if (phase_ == Phase::Draining && !writing_) next_request();
      return;
    }
    if (ec == net::error::eof) {
      peer_eof_ = true;
      if (phase_ == Phase::Handling) probe();
      else if (phase_ == Phase::Draining && !writing_) next_request();
      return;
    }
    close();
  }

  // The client shut its sending side: either it closed (gone) or it only half-closed and
  // waits for the answer. Something written now makes a closed peer's kernel answer
  // with a reset; an interim 102 (HTTP/1.1 clients must accept 1xx before the final
  // answer) or, in an event stream, a comment line.
  void probe() {
    if (!reply_ || reply_->ended()) return;
    if (streaming_) queue(chunk(":\n\n"));
    else if (http11_) queue("HTTP/1.1 102 Processing\r\n\r\n");
    else return close();
    poll_peer();
  }

  void poll_peer() {
    probe_timer_.expires_after(std::chrono::milliseconds(20));
    probe_timer_.async_wait([w = weak_from_this()](const error_code& ec) {
      auto self = w.lock();
      if (!self || ec || self->closed_ || self->phase_ != Phase::Handling) return;
      if (peer_reset(self->sock_.native_handle())) return self->close();
      self->poll_peer();
    });
  }

  void reply_done() {
    reply_->mark_ended();
    phase_ = Phase::Draining;
    if (!writing_) next_request();
  }

  void next_request() {
    if (closed_ || writing_) return;
    if (!keep_alive_) return refused_ ? linger_close() : close();
    if (reading_) {  // the watch read: stop it, and come back here when it has
      sock_.cancel();
      return;
    }
    if (peer_eof_ && buf_.size() == 0) return close();
    read_head();
  }

  // After a refusal the client may still be sending: closing with its bytes unread would
  // reset the connection, and the client could lose the answer. Read and drop them for a
  // while (up to 2 s and 4 MiB), then close.
  void linger_close() {
    error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_send, ignored);
    read_deadline_.expires_after(std::chrono::seconds(2));
    read_deadline_.async_wait([w = weak_from_this()](const error_code& ec) {
      if (auto self = w.lock(); self && !ec) self->close();
    });
    discard();
  }
  void discard() {
    sock_.async_read_some(net::buffer(scratch_), [self = shared_from_this()](const error_code& ec, size_t n) {
      self->discarded_ += n;
      if (ec || self->closed_ || self->discarded_ > (4u << 20)) return self->close();
      self->discard();
    });
  }

  void queue(std::string bytes) {
    out_bytes_ += bytes.size();
    out_.push_back(std::move(bytes));
    if (!writing_) write_next();
  }

  void write_next() {
    writing_ = true;
    write_deadline_.expires_after(seconds(front_->opt.write_timeout_s));
    write_deadline_.async_wait([w = weak_from_this()](const error_code& ec) {
      if (auto self = w.lock(); self && !ec) self->close();
    });
    net::async_write(sock_, net::buffer(out_.front()), [self = shared_from_this()](const error_code& ec, size_t) {
      self->writing_ = false;
      self->write_deadline_.cancel();
      if (self->closed_) return;
      if (ec) return self->close();
      self->out_bytes_ -= self->out_.front().size();
      self->out_.pop_front();
      if (!self->out_.empty()) return self->write_next();
      if (self->phase_ == Phase::Draining) self->next_request();
    });
  }

  // Also how a client that went away ends: a pending reply is marked gone.
  void close() {
    if (closed_) return;
    closed_ = true;
    if (reply_ && !reply_->ended()) reply_->mark_gone();
    error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
    read_deadline_.cancel();
    write_deadline_.cancel();
    probe_timer_.cancel();
  }

  Front::Impl* front_;
  tcp::socket sock_;
  std::string peer_;
  boost::beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  net::steady_timer read_deadline_, write_deadline_, probe_timer_;
  std::shared_ptr<ReplyImpl> reply_;
  std::deque<std::string> out_;
  size_t out_bytes_ = 0;
  Phase phase_ = Phase::Head;
  bool reading_ = false, writing_ = false, closed_ = false;
  bool peer_eof_ = false, keep_alive_ = true, http11_ = true, streaming_ = false, refused_ = false;
  std::array<char, 4096> scratch_;
  size_t discarded_ = 0;
};

template <typename F>
void ReplyImpl::post(F f) {
  net::post(ex_, [self = shared_from_this(), f = std::move(f)]() mutable {
    if (auto s = self->session_.lock()) f(*s, self.get());
  });
}
void ReplyImpl::send(Response r) {
  post([r = std::move(r)](Session& s, ReplyImpl* me) mutable { s.send_whole(me, std::move(r)); });
}
void ReplyImpl::start_stream(Response head) {
  post([h = std::move(head)](Session& s, ReplyImpl* me) mutable { s.send_head(me, std::move(h)); });
}
void ReplyImpl::write(std::string piece) {
  if (gone_ || ended_) return;
  post([p = std::move(piece)](Session& s, ReplyImpl* me) mutable { s.send_piece(me, std::move(p)); });
}
void ReplyImpl::end() {
  post([](Session& s, ReplyImpl* me) { s.send_end(me); });
}

void Front::Impl::accept() {
  acceptor.async_accept([self = this](const error_code& ec, tcp::socket sock) {
    if (ec == net::error::operation_aborted || !self->acceptor.is_open()) return;
    if (ec) {  // out of descriptors, most likely: wait a little rather than spin
      self->accept_retry.expires_after(std::chrono::milliseconds(50));
      self->accept_retry.async_wait([self](const error_code& e) {
        if (!e) self->accept();
      });
      return;
    }
    error_code ignored;
    const auto remote = sock.remote_endpoint(ignored);
    const std::string peer = ignored ? std::string("?") : remote.address().to_string();
    if (self->open >= self->opt.max_connections || self->per_address[peer] >= self->opt.max_connections_per_address) {
      if (self->per_address[peer] == 0) self->per_address.erase(peer);
      // Best effort, never waiting on this client.
      const Response r = self->opt.error_reply(503, "too many connections");
      const std::string bytes = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: " + r.content_type +
                                "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\nConnection: close\r\n\r\n" + r.body;
      sock.non_blocking(true, ignored);
      sock.write_some(net::buffer(bytes), ignored);
      sock.close(ignored);
    } else {
      ++self->open;
      ++self->per_address[peer];
      sock.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(self, std::move(sock), peer)->start();
    }
    self->accept();
  });
}

Front::Front(FrontOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Front::~Front() {
  stop();
  impl_->workers.join();
}

std::string Front::bind() {
  Impl& d = *impl_;
  // Every connection is a descriptor: take the hard limit, not the default soft 1,024.
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  error_code ec;
  tcp::resolver resolver(d.ioc);
  const auto endpoints = resolver.resolve(d.opt.host, std::to_string(d.opt.port), tcp::resolver::passive, ec);
  if (ec) return "cannot resolve the address: " + ec.message();
  const tcp::endpoint ep = endpoints.begin()->endpoint();
  d.acceptor.open(ep.protocol(), ec);
  if (!ec) d.acceptor.set_option(net::socket_base::reuse_address(true), ec);  // not SO_REUSEPORT: one server per port
  if (!ec) d.acceptor.bind(ep, ec);
  if (!ec) d.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    d.acceptor.close(ignored);
    return ec.message();
  }
  d.port = d.acceptor.local_endpoint().port();
  return "";
}

int Front::port() const { return impl_->port; }

void Front::run() {
  Impl& d = *impl_;
  d.signals.add(SIGINT);
  d.signals.add(SIGTERM);
  d.signals.async_wait([this](const error_code& ec, int) {
    if (!ec) stop();
  });
  d.accept();
  d.ioc.run();
}

void Front::stop() {
  net::post(impl_->ioc, [d = impl_.get()] {
    error_code ignored;
    d->acceptor.close(ignored);
    d->signals.cancel(ignored);
    d->ioc.stop();
  });
}

}  // namespace mlxcpp::web
