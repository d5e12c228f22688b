#include "server/http_server.h"

#include <chrono>
#include <mutex>
#include <random>

#include "server/http_front.h"
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

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }
std::string dump(const ojson& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string sse(const ojson& j) { return "data: " + dump(j) + "\n\n"; }

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// One generation request from submission to its last byte. The scheduler thread (text,
// done, error), the event loop (deadline, keep-alive, a client gone) and the worker that
// submitted it all touch it: under `mu`, and `finished` makes the first ending the only one.
struct Exchange {
  std::mutex mu;
  ApiRequest req;
  ResponseContext ctx;
  std::shared_ptr<ModelHost> host;
  std::shared_ptr<web::Reply> reply;
  std::shared_ptr<std::atomic<bool>> cancel;
  ToolCallFormat tool_format = ToolCallFormat::None;
  Clock::time_point start = Clock::now(), deadline;
  std::string endpoint;
  bool first = true, finished = false;
  std::string held;  // streamed text held back while it may become a tool call
};

}  // namespace

struct HttpServer::Impl {
  ServerOptions opt;
  std::shared_ptr<ModelRegistry> registry;
  Metrics metrics;
  std::unique_ptr<web::Front> front;
  std::string bind_error;

  bool authorized(const web::Request& req) {
    if (opt.api_key.empty()) return true;
    const std::string h = req.header("Authorization");
    return h.starts_with("Bearer ") && constant_time_equal(h.substr(7), opt.api_key);
  }

  // Every answer goes out with the CORS headers when they are asked for.
  web::Response response(int status, std::string body, std::string type = "application/json") {
    web::Response r{status, std::move(type), std::move(body), {}};
    if (!opt.cors_origin.empty()) {
      r.headers.emplace_back("Access-Control-Allow-Origin", opt.cors_origin);
      r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    }
    return r;
  }

  // One line per request on stderr (off with --quiet): method, path, status, tokens, time.
  void log_access(const std::string& method, const std::string& path, int status, int64_t prompt_tokens,
                  int64_t generated_tokens, double seconds) {
    if (opt.quiet) return;
    std::fprintf(stderr, "%s %s %d %lld+%lld tokens %.3f s\n", method.c_str(), path.c_str(), status,
                 (long long)prompt_tokens, (long long)generated_tokens, seconds);
  }

  void error(web::Reply& reply, const std::string& method, const std::string& endpoint, const ApiError& e) {
    metrics.count_request(endpoint, e.status());
    log_access(method, endpoint, e.status(), 0, 0, 0);
    reply.send(response(e.status(), dump(e.to_json())));
  }

  void route(web::Request& req, const std::shared_ptr<web::Reply>& reply) {
    const std::string& path = req.path;
    const bool generation = path == "/v1/chat/completions" || path == "/v1/completions";
    const bool info = path == "/v1/models" || path == "/health" || path == "/metrics";
    if (req.method == "OPTIONS" && !opt.cors_origin.empty()) {
      // The preflight allows the headers the browser asks for (the openai client sends its
      // own x-stainless-* headers), not a fixed pair.
      web::Response r = response(204, "", "text/plain");
      const std::string asked = req.header("Access-Control-Request-Headers");
      r.headers.emplace_back("Access-Control-Allow-Headers", asked.empty() ? "Authorization, Content-Type" : asked);
      r.headers.emplace_back("Access-Control-Max-Age", "600");
      log_access(req.method, path, 204, 0, 0, 0);
      return reply->send(std::move(r));
    }
    // A known path with the wrong method: 405 with the method it takes.
    if ((generation && req.method != "POST") || (info && req.method != "GET")) {
      const char* allow = generation ? "POST" : "GET";
      web::Response r = response(405, dump(ApiError(405, "invalid_request_error", "", path + " takes " + allow).to_json()));
      r.headers.emplace_back("Allow", allow);
      log_access(req.method, path, 405, 0, 0, 0);
      return reply->send(std::move(r));
    }
    if (generation)
      return handle_generation(req, reply, path == "/v1/chat/completions" ? ApiRequest::Kind::Chat : ApiRequest::Kind::Completion);
    if (path == "/health") {
      const HostStats s = registry->stats();
      log_access(req.method, path, 200, 0, 0, 0);
      return reply->send(response(200, dump(nlohmann::json{
                                            {"status", "ok"}, {"model", registry->default_id()}, {"queued", s.waiting}, {"active", s.running}})));
    }
    if (info && !authorized(req))
      return error(*reply, req.method, path, ApiError(401, "authentication_error", "", "missing or invalid API key"));
    if (path == "/metrics") {
      log_access(req.method, path, 200, 0, 0, 0);
      return reply->send(response(200, metrics.render(), "text/plain; version=0.0.4"));
    }
    if (path == "/v1/models") {
      metrics.count_request(path, 200);
      log_access(req.method, path, 200, 0, 0, 0);
      return reply->send(response(200, dump(registry->list())));
    }
    error(*reply, req.method, path, ApiError(404, "invalid_request_error", "", "no such endpoint: " + req.method + " " + path));
  }

  // The request's constraint (response_format, grammar, a required tool call), compiled
  // by the model's cache; what it cannot run is a 400 naming the field.
  std::shared_ptr<grammar::TokenConstraint> request_constraint(Exchange& ex) {
    const ApiRequest& r = ex.req;
    ConstraintCompiler& c = ex.host->constraints();
    try {
      if (!r.json_schema.is_null()) return c.json_schema(r.json_schema, "response_format");
      if (!r.grammar.empty()) return c.gbnf(r.grammar);
      if (r.tool_choice == "required" || r.tool_choice == "function") {
        const std::string key = fmt::format("tools:{}:{}:{}", to_string(ex.tool_format), r.tool_name, r.tools.dump());
        return c.grammar(key, [&] { return tool_call_grammar(ex.tool_format, r.tools, r.tool_name); });
      }
    } catch (const Error& e) {
      const std::string param = !r.json_schema.is_null() ? "response_format" : !r.grammar.empty() ? "grammar" : "tool_choice";
      throw ApiError(400, "invalid_request_error", param, e.what());
    }
    return nullptr;
  }

  // Parses, resolves the model, builds the prompt and submits; the answer is streamed or
  // sent whole when the generation ends (so a time-out can still be a 504).
  void handle_generation(const web::Request& http_req, const std::shared_ptr<web::Reply>& reply, ApiRequest::Kind kind) {
    auto ex = std::make_shared<Exchange>();
    ex->endpoint = http_req.path;
    ex->reply = reply;
    Job job;
    try {
      if (!authorized(http_req)) throw ApiError(401, "authentication_error", "", "missing or invalid API key (Authorization: Bearer …)");
      ex->req = kind == ApiRequest::Kind::Chat ? parse_chat_request(http_req.body, opt.limits)
                                               : parse_completion_request(http_req.body, opt.limits);
      ex->host = registry->get(ex->req.model);
      ex->ctx = {random_id(kind == ApiRequest::Kind::Chat ? "chatcmpl-" : "cmpl-"), unix_now(),
                 ex->req.model.empty() ? registry->default_id() : ex->req.model, &ex->host->tokenizer()};
      GenerationRequest g;
      if (!ex->req.tools.is_null()) {
        const std::string& source = ex->host->chat_template_source();
        ex->tool_format = infer_tool_call_format(source);
        // A template that never reads `tools` would drop them without a word.
        if (source.find("tools") == std::string::npos)
          throw ApiError(400, "invalid_request_error", "tools",
                         "the chat template of " + ex->ctx.model + " does not take tools, so the model would never see them");
        g.skip_special_tokens = ex->tool_format == ToolCallFormat::None;
      }
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
      g.constraint = request_constraint(*ex);
      job.request = std::move(g);
    } catch (const ApiError& e) {
      return error(*reply, "POST", ex->endpoint, e);
    } catch (const Error& e) {
      return error(*reply, "POST", ex->endpoint, ApiError(400, "invalid_request_error", "", e.what()));
    }
    ex->deadline = ex->start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.request_timeout_s));
    ex->cancel = job.cancel;
    job.on_text = [this, ex](const std::string& t) { on_text(*ex, t); };
    job.on_done = [this, ex](const GenerationResult& r) { on_done(*ex, r); };
    job.on_error = [this, ex](const std::string& m) { on_error(*ex, m); };
    reply->on_gone([this, ex] {
      std::lock_guard lock(ex->mu);
      if (ex->finished) return;
      ex->finished = true;
      if (!ex->cancel->exchange(true)) metrics.count_cancelled();
      log_access("POST", ex->endpoint, 499, 0, 0, since(ex->start));  // nginx's "client closed request"
    });
    reply->at(ex->deadline, [this, ex] { on_timeout(*ex); });
    if (ex->req.stream) {
      web::Response head = response(200, "", "text/event-stream");
      head.headers.emplace_back("Cache-Control", "no-cache");
      reply->start_stream(std::move(head));
      keep_alive_later(ex);
    }
    ex->host->submit(std::move(job));
  }

  // An SSE comment every 15 s without tokens keeps proxies from timing out.
  void keep_alive_later(const std::shared_ptr<Exchange>& ex) {
    ex->reply->at(Clock::now() + std::chrono::seconds(15), [this, ex] {
      std::lock_guard lock(ex->mu);
      if (ex->finished) return;
      ex->reply->write(": keepalive\n\n");
      keep_alive_later(ex);
    });
  }

  void record(const Exchange& ex, const GenerationResult& r, int status) {
    log_access("POST", ex.endpoint, status, r.prompt_tokens, r.generation_tokens, since(ex.start));
    metrics.count_request(ex.endpoint, status);
    metrics.add_tokens(r.prompt_tokens, r.generation_tokens);
    metrics.observe_latency(since(ex.start));
  }

  void on_text(Exchange& ex, const std::string& text) {
    std::lock_guard lock(ex.mu);
    if (ex.finished) return;
    if (ex.first) metrics.observe_first_token(since(ex.start));
    if (!ex.req.stream) {  // the whole answer comes with the result
      ex.first = false;
      return;
    }
    ex.held += text;
    // With tools, text that may be a tool call waits for the end.
    if (ex.tool_format != ToolCallFormat::None && may_become_tool_call(ex.held, ex.tool_format)) return;
    ex.reply->write(sse(text_chunk(ex.req, ex.ctx, ex.held, ex.first)));
    ex.first = false;
    ex.held.clear();
  }

  void on_done(Exchange& ex, const GenerationResult& r) {
    std::lock_guard lock(ex.mu);
    if (ex.finished) return;
    ex.finished = true;
    const auto calls = parse_tool_calls(r.text, ex.tool_format);
    record(ex, r, 200);
    if (!ex.req.stream) {
      ex.reply->send(response(200, dump(completion_response(ex.req, r, ex.ctx, calls ? &*calls : nullptr))));
      return;
    }
    if (calls) ex.reply->write(sse(tool_calls_chunk(ex.ctx, *calls)));
    else if (!ex.held.empty() || ex.first) ex.reply->write(sse(text_chunk(ex.req, ex.ctx, ex.held, ex.first)));
    ex.reply->write(sse(finish_chunk(ex.req, ex.ctx, openai_finish_reason(r, calls.has_value()))));
    if (ex.req.include_usage) ex.reply->write(sse(usage_chunk(ex.req, ex.ctx, r)));
    ex.reply->write("data: [DONE]\n\n");
    ex.reply->end();
  }

  // A failure after the answer began: in the stream as an error event; otherwise a 500.
  void fail_exchange(Exchange& ex, const ApiError& e) {
    metrics.count_request(ex.endpoint, e.status());
    log_access("POST", ex.endpoint, e.status(), 0, 0, since(ex.start));
    if (!ex.req.stream) return ex.reply->send(response(e.status(), dump(e.to_json())));
    ex.reply->write(sse({{"error", {{"message", e.what()}, {"type", e.type()}}}}));
    ex.reply->write("data: [DONE]\n\n");
    ex.reply->end();
  }

  void on_error(Exchange& ex, const std::string& message) {
    std::lock_guard lock(ex.mu);
    if (ex.finished) return;
    ex.finished = true;
    fail_exchange(ex, ApiError(500, "server_error", "", message));
  }

  void on_timeout(Exchange& ex) {
    std::lock_guard lock(ex.mu);
    if (ex.finished) return;
    ex.finished = true;
    ex.cancel->store(true);
    fail_exchange(ex, ApiError(504, "timeout", "", fmt::format("generation exceeded the server's {} s limit", opt.request_timeout_s)));
  }
};

HttpServer::HttpServer(ServerOptions options, std::shared_ptr<ModelRegistry> registry) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.opt = std::move(options);
  d.registry = std::move(registry);
  d.metrics.set_gauges([r = d.registry] { return r->stats(); });
  web::FrontOptions f;
  f.host = d.opt.host;
  f.port = d.opt.port;
  f.body_limit = d.opt.body_limit;
  f.header_timeout_s = d.opt.header_timeout_s;
  f.body_timeout_s = d.opt.body_timeout_s;
  f.max_connections = d.opt.max_connections;
  f.max_connections_per_address = d.opt.max_connections_per_address;
  f.error_reply = [&d](int status, const std::string& message) {
    d.log_access("-", "-", status, 0, 0, 0);
    return d.response(status, dump(ApiError(status, "invalid_request_error", "", message).to_json()));
  };
  d.front = std::make_unique<web::Front>(std::move(f), [&d](web::Request& req, std::shared_ptr<web::Reply> reply) { d.route(req, reply); });
}

HttpServer::~HttpServer() = default;

bool HttpServer::bind() {
  impl_->bind_error = impl_->front->bind();
  return impl_->bind_error.empty();
}

const std::string& HttpServer::bind_error() const { return impl_->bind_error; }

int HttpServer::port() const { return impl_->front->port(); }

void HttpServer::listen() { impl_->front->run(); }
void HttpServer::stop() { impl_->front->stop(); }

}  // namespace mlxcpp
