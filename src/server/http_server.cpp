#include "server/http_server.h"

#include <chrono>
#include <mutex>
#include <random>

#include "server/anthropic_protocol.h"
#include "server/chat_page.h"
#include "server/http_front.h"
#include "server/prompt_builder.h"
#include "server/responses_protocol.h"
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

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The APIs the server speaks; each parses its own bodies and writes its own answers.
enum class Api { ChatCompletions, Completions, Responses, Messages, CountTokens };

std::optional<Api> api_of(const std::string& path) {
  if (path == "/v1/chat/completions") return Api::ChatCompletions;
  if (path == "/v1/completions") return Api::Completions;
  if (path == "/v1/responses") return Api::Responses;
  if (path == "/v1/messages") return Api::Messages;
  if (path == "/v1/messages/count_tokens") return Api::CountTokens;
  return std::nullopt;
}

bool anthropic(Api api) { return api == Api::Messages || api == Api::CountTokens; }

// One generation request from submission to its last byte. The scheduler thread (text,
// done, error), the event loop (deadline, keep-alive, a client gone) and the worker that
// submitted it all touch it: under `mu`, and `finished` makes the first ending the only one.
struct Exchange {
  std::mutex mu;
  Api api = Api::ChatCompletions;
  ApiRequest req;
  ResponseContext ctx;
  std::unique_ptr<AnswerWriter> writer;
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
  std::shared_ptr<ResponseStore> response_store = std::make_shared<ResponseStore>();
  Metrics metrics;
  std::unique_ptr<web::Front> front;
  std::string bind_error;

  bool authorized(const web::Request& req) {
    if (opt.api_key.empty()) return true;
    // OpenAI clients send a bearer token, Anthropic clients an x-api-key header.
    const std::string h = req.header("Authorization");
    if (h.starts_with("Bearer ")) return constant_time_equal(h.substr(7), opt.api_key);
    const std::string key = req.header("x-api-key");
    return !key.empty() && constant_time_equal(key, opt.api_key);
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
    const auto api = api_of(endpoint);
    reply.send(response(e.status(), api && anthropic(*api) ? dump(anthropic_error_json(e)) : dump(e.to_json())));
  }

  void route(web::Request& req, const std::shared_ptr<web::Reply>& reply) {
    const std::string& path = req.path;
    const std::optional<Api> api = api_of(path);
    const bool generation = api.has_value();
    const bool model_info = path.starts_with("/v1/models/") && path.size() > 11;
    const bool info = path == "/v1/models" || model_info || path == "/health" || path == "/metrics";
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
    if (api == Api::CountTokens) return handle_count_tokens(req, reply);
    if (generation) return handle_generation(req, reply, *api);
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
    if (model_info) {
      // Ids hold a slash (org/name), sent as it is or percent-encoded.
      const std::string id = web::percent_decode(path.substr(11));
      const nlohmann::json models = registry->list();
      for (const auto& m : models["data"])
        if (m["id"] == id) {
          metrics.count_request("/v1/models/{id}", 200);
          log_access(req.method, path, 200, 0, 0, 0);
          return reply->send(response(200, dump(m)));
        }
      return error(*reply, req.method, "/v1/models/{id}",
                   ApiError(404, "invalid_request_error", "model", fmt::format("model '{}' is not served here (GET /v1/models lists them)", id), "model_not_found"));
    }
    if (const auto page = chat_page_file(path); page && req.method == "GET") {
      // Static and public (it holds no data: the browser asks the API for everything).
      web::Response r = response(200, std::string(page->body), std::string(page->content_type));
      r.headers.emplace_back("Content-Security-Policy",
                             "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
      r.headers.emplace_back("X-Content-Type-Options", "nosniff");
      r.headers.emplace_back("Referrer-Policy", "no-referrer");
      r.headers.emplace_back("Cache-Control", "no-cache");
      log_access(req.method, path, 200, 0, 0, 0);
      return reply->send(std::move(r));
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
        const std::string key = fmt::format("tools:{}:{}:{}:{}", to_string(ex.tool_format), r.tool_name, r.parallel_tool_calls, r.tools.dump());
        return c.grammar(key, [&] { return tool_call_grammar(ex.tool_format, r.tools, r.tool_name, r.parallel_tool_calls); });
      }
    } catch (const Error& e) {
      const std::string param = !r.json_schema.is_null() ? "response_format" : !r.grammar.empty() ? "grammar" : "tool_choice";
      throw ApiError(400, "invalid_request_error", param, e.what());
    }
    return nullptr;
  }

  // The prompt of a request, through the model's chat template (tools checked against it).
  std::vector<int32_t> prompt_tokens(Exchange& ex, GenerationRequest& g) {
    if (!ex.req.tools.is_null()) {
      const std::string& source = ex.host->chat_template_source();
      ex.tool_format = infer_tool_call_format(source);
      // A template that never reads `tools` would drop them without a word.
      if (source.find("tools") == std::string::npos)
        throw ApiError(400, "invalid_request_error", "tools",
                       "the chat template of " + ex.ctx.model + " does not take tools, so the model would never see them");
      g.skip_special_tokens = ex.tool_format == ToolCallFormat::None;
    }
    try {
      return ex.req.kind == ApiRequest::Kind::Chat ? chat_prompt_tokens(*ex.host, ex.req.messages, ex.req.tools, ex.req.chat_template_kwargs)
                                                   : ex.host->tokenizer().encode(ex.req.prompt, true);
    } catch (const Error& e) {
      throw ApiError(400, "invalid_request_error", "messages", std::string("the chat template failed: ") + e.what());
    }
  }

  // POST /v1/messages/count_tokens: the prompt's length, nothing generated.
  void handle_count_tokens(const web::Request& http_req, const std::shared_ptr<web::Reply>& reply) {
    Exchange ex;
    try {
      if (!authorized(http_req)) throw ApiError(401, "authentication_error", "", "missing or invalid API key (x-api-key)");
      ex.req = parse_messages_request(http_req.body, opt.limits, true);
      ex.host = registry->get(ex.req.model);
      ex.ctx.model = ex.req.model.empty() ? registry->default_id() : ex.req.model;
      GenerationRequest g;
      const size_t n = prompt_tokens(ex, g).size();
      metrics.count_request(http_req.path, 200);
      log_access("POST", http_req.path, 200, int64_t(n), 0, 0);
      reply->send(response(200, dump(nlohmann::json{{"input_tokens", n}})));
    } catch (const ApiError& e) {
      error(*reply, "POST", http_req.path, e);
    } catch (const Error& e) {
      error(*reply, "POST", http_req.path, ApiError(400, "invalid_request_error", "", e.what()));
    }
  }

  // Parses, resolves the model, builds the prompt and submits; the answer is streamed or
  // sent whole when the generation ends (so a time-out can still be a 504).
  void handle_generation(const web::Request& http_req, const std::shared_ptr<web::Reply>& reply, Api api) {
    auto ex = std::make_shared<Exchange>();
    ex->api = api;
    ex->endpoint = http_req.path;
    ex->reply = reply;
    Job job;
    try {
      if (!authorized(http_req)) throw ApiError(401, "authentication_error", "", "missing or invalid API key (Authorization: Bearer …, or x-api-key)");
      std::optional<ResponsesRequest> responses;
      switch (api) {
        case Api::ChatCompletions: ex->req = parse_chat_request(http_req.body, opt.limits); break;
        case Api::Completions: ex->req = parse_completion_request(http_req.body, opt.limits); break;
        case Api::Responses:
          responses = parse_responses_request(http_req.body, opt.limits, *response_store);
          ex->req = responses->api;
          break;
        case Api::Messages:
        case Api::CountTokens: ex->req = parse_messages_request(http_req.body, opt.limits); break;
      }
      ex->host = registry->get(ex->req.model);
      static constexpr const char* kIdPrefix[] = {"chatcmpl-", "cmpl-", "resp_", "msg_", ""};
      ex->ctx = {random_id(kIdPrefix[int(api)]), unix_now(), ex->req.model.empty() ? registry->default_id() : ex->req.model,
                 &ex->host->tokenizer()};
      GenerationRequest g;
      g.prompt = prompt_tokens(*ex, g);
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
      ex->ctx.prompt_tokens = int64_t(g.prompt.size());
      switch (api) {
        case Api::Responses: ex->writer = responses_answer_writer(std::move(*responses), ex->ctx, response_store); break;
        case Api::Messages: ex->writer = messages_answer_writer(ex->ctx); break;
        default: ex->writer = openai_answer_writer(ex->req, ex->ctx); break;
      }
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
      if (const std::string open = ex->writer->stream_open(); !open.empty()) reply->write(open);
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
    ex.reply->write(ex.writer->stream_text(ex.held));
    ex.first = false;
    ex.held.clear();
  }

  void on_done(Exchange& ex, const GenerationResult& r) {
    std::lock_guard lock(ex.mu);
    if (ex.finished) return;
    ex.finished = true;
    auto calls = parse_tool_calls(r.text, ex.tool_format);
    if (calls && !ex.req.parallel_tool_calls && calls->size() > 1) calls->resize(1);
    record(ex, r, 200);
    const std::vector<ToolCall>* call_list = calls ? &*calls : nullptr;
    if (!ex.req.stream) return ex.reply->send(response(200, ex.writer->whole(r, call_list)));
    if (!calls && !ex.held.empty()) ex.reply->write(ex.writer->stream_text(ex.held));
    ex.reply->write(ex.writer->stream_close(r, call_list));
    ex.reply->end();
  }

  // A failure after the answer began: in the stream as an error event; otherwise a 500.
  void fail_exchange(Exchange& ex, const ApiError& e) {
    metrics.count_request(ex.endpoint, e.status());
    log_access("POST", ex.endpoint, e.status(), 0, 0, since(ex.start));
    if (!ex.req.stream)
      return ex.reply->send(response(e.status(), anthropic(ex.api) ? dump(anthropic_error_json(e)) : dump(e.to_json())));
    ex.reply->write(ex.writer->stream_error(e));
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
