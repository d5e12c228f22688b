#include "server/http_server.h"

#include <httplib.h>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

#include "server/event_channel.h"
#include "server/prompt_builder.h"
#include "server/tool_calls.h"

namespace mlxcpp {

using ojson = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Touch every byte of the longer string whatever the contents, so timing reveals nothing.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i)
    diff |= static_cast<unsigned char>((i < a.size() ? a[i] : 0) ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

namespace {

std::string random_id(const char* prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += hex[rng() & 15];
  return id;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void send_json(httplib::Response& res, int status, const nlohmann::json& j) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

std::string sse(const ojson& j) { return "data: " + j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n"; }

// What one request needs from submission to its last byte.
struct Exchange {
  ApiRequest req;
  ResponseContext ctx;
  std::shared_ptr<ModelHost> host;
  std::shared_ptr<EventChannel> channel = std::make_shared<EventChannel>();
  std::shared_ptr<std::atomic<bool>> cancel;
  ToolCallFormat tool_format = ToolCallFormat::None;
  Clock::time_point start = Clock::now(), deadline;
  std::string endpoint;
};

}  // namespace

struct HttpServer::Impl {
  ServerOptions opt;
  std::shared_ptr<ModelRegistry> registry;
  httplib::Server server;
  Metrics metrics;
  int port = 0;

  bool authorized(const httplib::Request& req) {
    if (opt.api_key.empty()) return true;
    const std::string h = req.get_header_value("Authorization");
    return h.starts_with("Bearer ") && constant_time_equal(h.substr(7), opt.api_key);
  }

  void error(httplib::Response& res, const std::string& endpoint, const ApiError& e) {
    metrics.count_request(endpoint, e.status());
    send_json(res, e.status(), e.to_json());
  }

  // One line per request on stderr (off with --quiet): method, path, status, tokens, time.
  void log_access(const std::string& method, const std::string& path, int status, int64_t prompt_tokens,
                  int64_t generated_tokens, double seconds) {
    if (opt.quiet) return;
    std::fprintf(stderr, "%s %s %d %lld+%lld tokens %.3f s\n", method.c_str(), path.c_str(), status,
                 (long long)prompt_tokens, (long long)generated_tokens, seconds);
  }

  // Parses, resolves the model, builds the prompt and submits; the answer is streamed or not.
  void handle_generation(const httplib::Request& http_req, httplib::Response& res, ApiRequest::Kind kind) {
    auto ex = std::make_shared<Exchange>();
    ex->endpoint = kind == ApiRequest::Kind::Chat ? "/v1/chat/completions" : "/v1/completions";
    try {
      if (!authorized(http_req)) throw ApiError(401, "authentication_error", "", "missing or invalid API key (Authorization: Bearer …)");
      ex->req = kind == ApiRequest::Kind::Chat ? parse_chat_request(http_req.body, opt.limits)
                                               : parse_completion_request(http_req.body, opt.limits);
      ex->host = registry->get(ex->req.model);
      ex->ctx = {random_id(kind == ApiRequest::Kind::Chat ? "chatcmpl-" : "cmpl-"), unix_now(),
                 ex->req.model.empty() ? registry->default_id() : ex->req.model, &ex->host->tokenizer()};
      GenerationRequest g;
      try {
        g.prompt = kind == ApiRequest::Kind::Chat ? chat_prompt_tokens(*ex->host, ex->req.messages, ex->req.tools, ex->req.chat_template_kwargs)
                                                  : ex->host->tokenizer().encode(ex->req.prompt, true);
      } catch (const Error& e) {
        throw ApiError(400, "invalid_request_error", "messages", std::string("the chat template failed: ") + e.what());
      }
      const int64_t context = opt.ctx > 0 ? std::min(opt.ctx, ex->host->config().context_length()) : ex->host->config().context_length();
      if (int64_t(g.prompt.size()) >= context)
        throw ApiError(400, "invalid_request_error", "messages",
                       fmt::format("the prompt has {} tokens but the context is {} tokens", g.prompt.size(), context),
                       "context_length_exceeded");
      g.max_tokens = int(std::min<int64_t>(ex->req.max_tokens, context - int64_t(g.prompt.size())));
      g.sampling = ex->req.sampling;
      g.stop = ex->req.stop;
      g.top_logprobs = ex->req.top_logprobs;
      if (!ex->req.tools.is_null()) {
        ex->tool_format = infer_tool_call_format(ex->host->chat_template_source());
        g.skip_special_tokens = ex->tool_format == ToolCallFormat::None;
      }
      ex->deadline = ex->start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.request_timeout_s));
      Job job;
      job.request = std::move(g);
      ex->cancel = job.cancel;
      auto channel = ex->channel;
      job.on_text = [channel](const std::string& t) { channel->push({StreamEvent::Kind::Text, t, {}}); };
      job.on_done = [channel](const GenerationResult& r) { channel->push({StreamEvent::Kind::Done, "", r}); };
      job.on_error = [channel](const std::string& m) { channel->push({StreamEvent::Kind::Error, m, {}}); };
      ex->host->submit(std::move(job));
    } catch (const ApiError& e) {
      return error(res, ex->endpoint, e);
    } catch (const Error& e) {
      return error(res, ex->endpoint, ApiError(400, "invalid_request_error", "", e.what()));
    }
    if (ex->req.stream) stream_answer(ex, res);
    else whole_answer(ex, res);
  }

  void record(const Exchange& ex, const GenerationResult& r, int status) {
    log_access("POST", ex.endpoint, status, r.prompt_tokens, r.generation_tokens,
               std::chrono::duration<double>(Clock::now() - ex.start).count());
    metrics.count_request(ex.endpoint, status);
    metrics.add_tokens(r.prompt_tokens, r.generation_tokens);
    metrics.observe_latency(std::chrono::duration<double>(Clock::now() - ex.start).count());
  }

  // The whole answer in one JSON body. It is sent through a content provider so that the
  // wait can notice a client that hangs up (and cancel its generation); every check that
  // can fail happened before submission, so the status is 200 by then.
  void whole_answer(const std::shared_ptr<Exchange>& ex, httplib::Response& res) {
    res.set_chunked_content_provider(
        "application/json",
        [this, ex, first = true](size_t, httplib::DataSink& sink) mutable {
          auto finish = [&](const std::string& body) {
            sink.write(body.data(), body.size());
            sink.done();
            return true;
          };
          for (;;) {
            // A client that hangs up is noticed within 50 ms, tokens flowing or not.
            auto e = ex->channel->pop(std::min(ex->deadline, Clock::now() + std::chrono::milliseconds(50)));
            if (!sink.is_writable()) {
              if (!ex->cancel->exchange(true)) metrics.count_cancelled();
              return false;
            }
            if (!e) {
              if (Clock::now() >= ex->deadline) {
                ex->cancel->store(true);
                metrics.count_request(ex->endpoint, 504);
                return finish(ApiError(504, "timeout", "", fmt::format("generation exceeded the server's {} s limit",
                                                                       opt.request_timeout_s)).to_json().dump());
              }
              continue;
            }
            if (e->kind == StreamEvent::Kind::Text) {
              if (first) metrics.observe_first_token(std::chrono::duration<double>(Clock::now() - ex->start).count());
              first = false;
              continue;
            }
            if (e->kind == StreamEvent::Kind::Error) {
              metrics.count_request(ex->endpoint, 500);
              return finish(ApiError(500, "server_error", "", e->text).to_json().dump());
            }
            const auto calls = parse_tool_calls(e->result.text, ex->tool_format);
            record(*ex, e->result, 200);
            return finish(completion_response(ex->req, e->result, ex->ctx, calls ? &*calls : nullptr)
                              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
          }
        },
        [this, ex](bool success) {
          if (!success && !ex->cancel->exchange(true)) metrics.count_cancelled();
        });
  }

  void stream_answer(const std::shared_ptr<Exchange>& ex, httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    auto state = std::make_shared<std::pair<bool, std::string>>(true, "");  // first chunk?, held-back text
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, ex, state](size_t, httplib::DataSink& sink) {
          auto& [first, held] = *state;
          auto write = [&](const std::string& s) {
            if (!sink.write(s.data(), s.size())) {
              if (!ex->cancel->exchange(true)) metrics.count_cancelled();  // the client went away
              return false;
            }
            return true;
          };
          auto e = ex->channel->pop(std::min(ex->deadline, Clock::now() + std::chrono::seconds(15)));
          if (!e) {
            if (Clock::now() >= ex->deadline) {
              ex->cancel->store(true);
              write(sse({{"error", {{"message", "generation exceeded the server's time limit"}, {"type", "timeout"}}}}));
              write("data: [DONE]\n\n");
              metrics.count_request(ex->endpoint, 504);
              sink.done();
              return true;
            }
            return write(": keepalive\n\n");  // SSE comment: keeps proxies from timing out
          }
          if (e->kind == StreamEvent::Kind::Text) {
            if (first) metrics.observe_first_token(std::chrono::duration<double>(Clock::now() - ex->start).count());
            held += e->text;
            // With tools, text that may be a tool call waits for the end.
            if (ex->tool_format != ToolCallFormat::None && may_become_tool_call(held, ex->tool_format)) return true;
            const bool ok = write(sse(text_chunk(ex->req, ex->ctx, held, first)));
            first = false;
            held.clear();
            return ok;
          }
          if (e->kind == StreamEvent::Kind::Error) {
            write(sse({{"error", {{"message", e->text}, {"type", "server_error"}}}}));
            write("data: [DONE]\n\n");
            metrics.count_request(ex->endpoint, 500);
            sink.done();
            return true;
          }
          const GenerationResult& r = e->result;
          const auto calls = parse_tool_calls(r.text, ex->tool_format);
          if (calls) {
            if (!write(sse(tool_calls_chunk(ex->ctx, *calls)))) return false;
          } else if (!held.empty() || first) {
            if (!write(sse(text_chunk(ex->req, ex->ctx, held, first)))) return false;
          }
          if (!write(sse(finish_chunk(ex->req, ex->ctx, openai_finish_reason(r, calls.has_value()))))) return false;
          if (ex->req.include_usage && !write(sse(usage_chunk(ex->req, ex->ctx, r)))) return false;
          write("data: [DONE]\n\n");
          record(*ex, r, 200);
          sink.done();
          return true;
        },
        [this, ex](bool success) {
          // Connection closed before the end.
          if (!success && !ex->cancel->exchange(true)) metrics.count_cancelled();
        });
  }

  void routes() {
    server.set_payload_max_length(opt.body_limit);
    server.set_read_timeout(60, 0);
    server.set_write_timeout(60, 0);
    // Tokens go out as they come (no Nagle delay behind a client's delayed ACK).
    server.set_tcp_nodelay(true);
    // SO_REUSEADDR only: httplib's SO_REUSEPORT would let a second server share the port.
    server.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    server.new_task_queue = [n = opt.http_threads] { return new httplib::ThreadPool(size_t(n)); };
    if (!opt.cors_origin.empty()) {
      server.set_default_headers({{"Access-Control-Allow-Origin", opt.cors_origin},
                                  {"Access-Control-Allow-Methods", "GET, POST, OPTIONS"}});
      // The preflight allows the headers the browser asks for (the openai client sends its
      // own x-stainless-* headers), not a fixed pair.
      server.Options(R"(.*)", [](const httplib::Request& req, httplib::Response& res) {
        const std::string asked = req.get_header_value("Access-Control-Request-Headers");
        res.set_header("Access-Control-Allow-Headers", asked.empty() ? "Authorization, Content-Type" : asked);
        res.set_header("Access-Control-Max-Age", "600");
        res.status = 204;
      });
    }
    // A known path with the wrong method: 405 with the method it takes.
    for (const char* path : {"/v1/chat/completions", "/v1/completions"})
      server.Get(path, [](const httplib::Request& req, httplib::Response& res) {
        res.set_header("Allow", "POST");
        send_json(res, 405, ApiError(405, "invalid_request_error", "", req.path + " takes POST").to_json());
      });
    for (const char* path : {"/v1/models", "/health", "/metrics"})
      server.Post(path, [](const httplib::Request& req, httplib::Response& res) {
        res.set_header("Allow", "GET");
        send_json(res, 405, ApiError(405, "invalid_request_error", "", req.path + " takes GET").to_json());
      });
    server.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      const HostStats s = registry->stats();
      send_json(res, 200,
                nlohmann::json{{"status", "ok"}, {"model", registry->default_id()}, {"queued", s.waiting}, {"active", s.running}});
    });
    server.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req)) return error(res, "/metrics", ApiError(401, "authentication_error", "", "missing or invalid API key"));
      res.set_content(metrics.render(), "text/plain; version=0.0.4");
    });
    server.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req)) return error(res, "/v1/models", ApiError(401, "authentication_error", "", "missing or invalid API key"));
      metrics.count_request("/v1/models", 200);
      send_json(res, 200, registry->list());
    });
    server.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      handle_generation(req, res, ApiRequest::Kind::Chat);
    });
    server.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      handle_generation(req, res, ApiRequest::Kind::Completion);
    });
    server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      // Generations log themselves with their tokens (record); everything else here.
      if (res.status == 200 && (req.path == "/v1/chat/completions" || req.path == "/v1/completions")) return;
      log_access(req.method, req.path, res.status, 0, 0, 0);
    });
    server.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;  // our own error answer
      const std::string msg = res.status == 413   ? fmt::format("request body larger than {} bytes", opt.body_limit)
                              : res.status == 404 ? "no such endpoint: " + req.method + " " + req.path
                                                  : "HTTP " + std::to_string(res.status);
      send_json(res, res.status, ApiError(res.status, "invalid_request_error", "", msg).to_json());
    });
  }
};

HttpServer::HttpServer(ServerOptions options, std::shared_ptr<ModelRegistry> registry) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->registry = std::move(registry);
  impl_->metrics.set_gauges([r = impl_->registry] { return r->stats(); });
  impl_->routes();
}

HttpServer::~HttpServer() = default;

bool HttpServer::bind() {
  if (impl_->opt.port == 0) impl_->port = impl_->server.bind_to_any_port(impl_->opt.host);
  else impl_->port = impl_->server.bind_to_port(impl_->opt.host, impl_->opt.port) ? impl_->opt.port : -1;
  return impl_->port > 0;
}

int HttpServer::port() const { return impl_->port; }

std::string bind_failure(const std::string& host, int port) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  if (const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0)
    return std::string("cannot resolve the address: ") + gai_strerror(rc);
  std::string why = "unknown reason";
  const int sock = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
  if (sock >= 0) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(sock, res->ai_addr, res->ai_addrlen) != 0) why = std::strerror(errno);
    close(sock);
  }
  freeaddrinfo(res);
  return why;
}
void HttpServer::listen() { impl_->server.listen_after_bind(); }
void HttpServer::stop() { impl_->server.stop(); }

}  // namespace mlxcpp
