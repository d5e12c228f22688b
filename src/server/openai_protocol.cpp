#include "server/openai_protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "server/request_fields.h"
#include "tokenizer/tokenizer.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// The fields both endpoints share; `known` collects the names accepted so far.
void parse_common(const ojson& j, ApiRequest& r, const ApiLimits& limits, std::set<std::string>& known) {
  known.insert({"model", "max_tokens", "stop", "n", "stream", "stream_options", "user", "response_format", "grammar"});
  if (j.contains("model")) {
    if (!j["model"].is_string()) bad_request("model", "'model' must be a string");
    r.model = j["model"];
  }
  r.max_tokens = limits.default_max_tokens;
  if (has_field(j, "max_tokens")) r.max_tokens = int(integer_field(j, "max_tokens", 0, limits.max_tokens_cap));
  r.sampling.temperature = limits.default_temperature;
  parse_sampling_fields(j, r.sampling, 2, known);
  if (has_field(j, "n") && integer_field(j, "n", 1, 128) != 1) bad_request("n", "only n = 1 is supported");
  if (has_field(j, "stop")) {
    const auto& s = j["stop"];
    if (s.is_string()) r.stop.push_back(s);
    else if (s.is_array() && s.size() <= 16) {
      for (const auto& x : s) {
        if (!x.is_string()) bad_request("stop", "'stop' must be a string or a list of strings");
        r.stop.push_back(x);
      }
    } else bad_request("stop", "'stop' must be a string or a list of up to 16 strings");
    for (const auto& x : r.stop)
      if (x.empty()) bad_request("stop", "stop strings must not be empty");
  }
  if (has_field(j, "stream")) r.stream = boolean_field(j, "stream");
  if (has_field(j, "stream_options")) {
    const auto& so = j["stream_options"];
    if (!so.is_object()) bad_request("stream_options", "'stream_options' must be an object");
    for (const auto& [k, v] : so.items())
      if (k != "include_usage") bad_request("stream_options." + k, fmt::format("unsupported stream option '{}'", k));
    if (so.contains("include_usage")) {
      if (!so["include_usage"].is_boolean()) bad_request("stream_options.include_usage", "'include_usage' must be true or false");
      r.include_usage = so["include_usage"];
    }
    if (!r.stream) bad_request("stream_options", "'stream_options' is only allowed with stream: true");
  }
  if (has_field(j, "user") && !j["user"].is_string()) bad_request("user", "'user' must be a string");
  if (has_field(j, "response_format")) {
    const auto& rf = j["response_format"];
    if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string())
      bad_request("response_format", "'response_format' must be an object with a 'type'");
    const std::string type = rf["type"];
    if (type == "json_object") {
      // (llama.cpp's server also takes a schema here.)
      r.json_schema = rf.contains("schema") ? rf["schema"] : ojson{{"type", "object"}};
    } else if (type == "json_schema") {
      if (!rf.contains("json_schema") || !rf["json_schema"].is_object() || !rf["json_schema"].contains("schema"))
        bad_request("response_format", "response_format json_schema needs {\"json_schema\": {\"name\": …, \"schema\": {…}}}");
      r.json_schema = rf["json_schema"]["schema"];
      if (!r.json_schema.is_object() && !r.json_schema.is_boolean())
        bad_request("response_format", "response_format.json_schema.schema must be an object");
    } else if (type != "text") {
      bad_request("response_format", fmt::format("response_format type '{}' is not supported (text, json_object, json_schema)", type));
    }
  }
  if (has_field(j, "grammar")) {
    if (!j["grammar"].is_string() || j["grammar"].get<std::string>().empty())
      bad_request("grammar", "'grammar' must be a GBNF text (a rule named root)");
    if (!r.json_schema.is_null()) bad_request("grammar", "'grammar' and 'response_format' cannot be used together");
    r.grammar = j["grammar"];
  }
  try {
    validate_sampling(r.sampling);
  } catch (const Error& e) {
    bad_request("", e.what());
  }
}

}  // namespace

nlohmann::json ApiError::to_json() const {
  return {{"error", {{"message", what()}, {"type", type_}, {"param", param_.empty() ? json(nullptr) : json(param_)}, {"code", code_.empty() ? json(nullptr) : json(code_)}}}};
}

ApiRequest parse_chat_request(std::string_view body, const ApiLimits& limits) {
  const ojson j = parse_request_body(body);
  ApiRequest r;
  r.kind = ApiRequest::Kind::Chat;
  std::set<std::string> known{"messages", "max_completion_tokens", "logprobs", "top_logprobs", "tools", "tool_choice",
                              "chat_template_kwargs", "parallel_tool_calls"};
  parse_common(j, r, limits, known);
  reject_unknown_fields(j, known);
  if (has_field(j, "max_completion_tokens"))
    r.max_tokens = int(integer_field(j, "max_completion_tokens", 0, limits.max_tokens_cap));
  if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
    bad_request("messages", "'messages' must be a non-empty list");
  r.messages = ojson::array();
  size_t i = 0;
  for (const auto& m : j["messages"]) {
    const std::string where = fmt::format("messages[{}]", i);
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) bad_request(where, "each message needs a string 'role'");
    const std::string role = m["role"];
    if (role != "system" && role != "user" && role != "assistant" && role != "tool" && role != "developer")
      bad_request(where + ".role", fmt::format("unknown role '{}'", role));
    const bool has_content = m.contains("content") && !m["content"].is_null();
    ojson out = {{"role", role == "developer" ? "system" : role},
                 {"content", has_content ? joined_text(m["content"], where + ".content") : ""}};
    for (const auto& [k, v] : m.items()) {
      if (k == "role" || k == "content") continue;
      if (k == "name" || k == "tool_call_id") {
        out[k] = v;
      } else if (k == "tool_calls" && role == "assistant") {
        // OpenAI sends arguments as a JSON string; chat templates expect an object.
        ojson calls = v;
        if (!calls.is_array()) bad_request(where + ".tool_calls", "'tool_calls' must be a list");
        for (auto& c : calls)
          if (c.is_object() && c.contains("function") && c["function"].is_object() && c["function"].contains("arguments") &&
              c["function"]["arguments"].is_string()) {
            auto parsed = ojson::parse(c["function"]["arguments"].get<std::string>(), nullptr, false);
            if (!parsed.is_discarded()) c["function"]["arguments"] = parsed;
          }
        out[k] = calls;
      } else {
        bad_request(where + "." + k, fmt::format("unknown or unsupported message field '{}'", k));
      }
    }
    r.messages.push_back(out);
    ++i;
  }
  if (has_field(j, "logprobs") && boolean_field(j, "logprobs")) r.top_logprobs = 0;
  if (has_field(j, "top_logprobs")) {
    const int n = int(integer_field(j, "top_logprobs", 0, 20));
    if (r.top_logprobs < 0) bad_request("top_logprobs", "'top_logprobs' needs logprobs: true");
    r.top_logprobs = n;
  }
  if (has_field(j, "tool_choice")) {
    const auto& tc = j["tool_choice"];
    if (tc.is_string()) {
      r.tool_choice = tc;
      if (r.tool_choice != "auto" && r.tool_choice != "none" && r.tool_choice != "required")
        bad_request("tool_choice", fmt::format("tool_choice '{}' is not one of auto, none, required", r.tool_choice));
    } else if (tc.is_object() && tc.value("type", "") == "function" && tc.contains("function") && tc["function"].is_object() &&
               tc["function"].contains("name") && tc["function"]["name"].is_string()) {
      r.tool_choice = "function";
      r.tool_name = tc["function"]["name"];
    } else {
      bad_request("tool_choice", "tool_choice must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": …}}");
    }
  }
  if (has_field(j, "tools")) {
    if (!j["tools"].is_array()) bad_request("tools", "'tools' must be a list");
    for (const auto& t : j["tools"])
      if (!t.is_object() || t.value("type", "") != "function" || !t.contains("function") || !t["function"].is_object() ||
          !t["function"].contains("name") || !t["function"]["name"].is_string())
        bad_request("tools", "each tool must be {\"type\": \"function\", \"function\": {\"name\": …, …}}");
    if (r.tool_choice != "none" && !j["tools"].empty()) r.tools = j["tools"];
  }
  check_tool_choice(r);
  if (has_field(j, "parallel_tool_calls")) r.parallel_tool_calls = boolean_field(j, "parallel_tool_calls");
  if (has_field(j, "chat_template_kwargs")) {
    if (!j["chat_template_kwargs"].is_object()) bad_request("chat_template_kwargs", "'chat_template_kwargs' must be an object");
    r.chat_template_kwargs = j["chat_template_kwargs"];
  }
  return r;
}

ApiRequest parse_completion_request(std::string_view body, const ApiLimits& limits) {
  const ojson j = parse_request_body(body);
  ApiRequest r;
  r.kind = ApiRequest::Kind::Completion;
  std::set<std::string> known{"prompt", "logprobs"};
  parse_common(j, r, limits, known);
  reject_unknown_fields(j, known);
  if (!j.contains("prompt")) bad_request("prompt", "'prompt' is required");
  if (j["prompt"].is_string()) r.prompt = j["prompt"];
  else if (j["prompt"].is_array() && j["prompt"].size() == 1 && j["prompt"][0].is_string()) r.prompt = j["prompt"][0];
  else bad_request("prompt", "'prompt' must be a string (one prompt per request)");
  if (r.prompt.empty()) bad_request("prompt", "'prompt' must not be empty");
  // The legacy completions API: logprobs is the number of alternatives (0–5).
  if (has_field(j, "logprobs")) r.top_logprobs = int(integer_field(j, "logprobs", 0, 5));
  return r;
}

std::string openai_finish_reason(const GenerationResult& r, bool has_tool_calls) {
  if (has_tool_calls) return "tool_calls";
  return r.finish_reason == "length" ? "length" : "stop";
}

ojson usage_json(const GenerationResult& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.generation_tokens},
          {"total_tokens", r.prompt_tokens + r.generation_tokens},
          {"prompt_tokens_details", {{"cached_tokens", r.cached_prompt_tokens}}}};
}

namespace {

ojson logprobs_json(const ApiRequest& req, const GenerationResult& r, const Tokenizer* tok) {
  const auto text_of = [&](int32_t id) {
    return tok ? tok->decode(std::span<const int32_t>(&id, 1), false) : std::to_string(id);
  };
  const auto bytes_of = [](const std::string& s) {
    json b = json::array();
    for (unsigned char c : s) b.push_back(int(c));
    return b;
  };
  if (req.kind == ApiRequest::Kind::Chat) {
    ojson content = ojson::array();
    for (const auto& lp : r.logprobs) {
      ojson top = ojson::array();
      for (const auto& [id, v] : lp.top) {
        const std::string t = text_of(id);
        top.push_back({{"token", t}, {"logprob", v}, {"bytes", bytes_of(t)}});
      }
      content.push_back({{"token", lp.token}, {"logprob", lp.logprob}, {"bytes", bytes_of(lp.token)}, {"top_logprobs", top}});
    }
    return {{"content", content}};
  }
  ojson tokens = ojson::array(), token_logprobs = ojson::array(), top = ojson::array();
  for (const auto& lp : r.logprobs) {
    tokens.push_back(lp.token);
    token_logprobs.push_back(lp.logprob);
    ojson alternatives = ojson::object();
    for (const auto& [id, v] : lp.top) alternatives[text_of(id)] = v;
    top.push_back(alternatives);
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top}};
}

ojson envelope(const ResponseContext& ctx, const char* object) {
  return {{"id", ctx.id}, {"object", object}, {"created", ctx.created}, {"model", ctx.model}, {"system_fingerprint", "mlxcpp-0.1.0"}};
}

}  // namespace

ojson completion_response(const ApiRequest& req, const GenerationResult& r, const ResponseContext& ctx,
                          const std::vector<ToolCall>* calls) {
  const bool chat = req.kind == ApiRequest::Kind::Chat;
  ojson out = envelope(ctx, chat ? "chat.completion" : "text_completion");
  ojson choice = {{"index", 0}};
  if (chat) {
    ojson message = {{"role", "assistant"}, {"content", calls ? ojson(nullptr) : ojson(r.text)}};
    if (calls) {
      ojson list = ojson::array();
      for (const auto& c : *calls)
        list.push_back({{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
      message["tool_calls"] = list;
    }
    choice["message"] = message;
  } else {
    choice["text"] = r.text;
  }
  choice["logprobs"] = req.top_logprobs >= 0 ? logprobs_json(req, r, ctx.tokenizer) : ojson(nullptr);
  choice["finish_reason"] = openai_finish_reason(r, calls != nullptr);
  out["choices"] = ojson::array({choice});
  out["usage"] = usage_json(r);
  return out;
}

ojson text_chunk(const ApiRequest& req, const ResponseContext& ctx, const std::string& text, bool first) {
  const bool chat = req.kind == ApiRequest::Kind::Chat;
  ojson out = envelope(ctx, chat ? "chat.completion.chunk" : "text_completion");
  ojson choice = {{"index", 0}};
  if (chat) {
    ojson delta = ojson::object();
    if (first) delta["role"] = "assistant";
    delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = nullptr;
  out["choices"] = ojson::array({choice});
  return out;
}

ojson tool_calls_chunk(const ResponseContext& ctx, const std::vector<ToolCall>& calls) {
  ojson out = envelope(ctx, "chat.completion.chunk");
  ojson list = ojson::array();
  for (size_t i = 0; i < calls.size(); ++i)
    list.push_back({{"index", i}, {"id", calls[i].id}, {"type", "function"},
                    {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments}}}});
  out["choices"] = ojson::array({{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", list}}},
                                  {"logprobs", nullptr}, {"finish_reason", nullptr}}});
  return out;
}

ojson finish_chunk(const ApiRequest& req, const ResponseContext& ctx, const std::string& finish_reason) {
  const bool chat = req.kind == ApiRequest::Kind::Chat;
  ojson out = envelope(ctx, chat ? "chat.completion.chunk" : "text_completion");
  ojson choice = {{"index", 0}};
  if (chat) choice["delta"] = ojson::object();
  else choice["text"] = "";
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finish_reason;
  out["choices"] = ojson::array({choice});
  return out;
}

ojson usage_chunk(const ApiRequest& req, const ResponseContext& ctx, const GenerationResult& r) {
  ojson out = envelope(ctx, req.kind == ApiRequest::Kind::Chat ? "chat.completion.chunk" : "text_completion");
  out["choices"] = ojson::array();
  out["usage"] = usage_json(r);
  return out;
}

namespace {

class OpenAiWriter final : public AnswerWriter {
 public:
  OpenAiWriter(const ApiRequest& req, ResponseContext ctx) : req_(req), ctx_(std::move(ctx)) {}

  std::string stream_open() override { return ""; }

  std::string stream_text(const std::string& text) override {
    std::string out = sse_event(text_chunk(req_, ctx_, text, first_));
    first_ = false;
    return out;
  }

  std::string stream_close(const GenerationResult& r, const std::vector<ToolCall>* calls) override {
    std::string out;
    if (calls) out += sse_event(tool_calls_chunk(ctx_, *calls));
    else if (first_) out += sse_event(text_chunk(req_, ctx_, "", true));  // the role, even for no text
    out += sse_event(finish_chunk(req_, ctx_, openai_finish_reason(r, calls != nullptr)));
    if (req_.include_usage) out += sse_event(usage_chunk(req_, ctx_, r));
    return out + "data: [DONE]\n\n";
  }

  std::string stream_error(const ApiError& e) override {
    return sse_event({{"error", {{"message", e.what()}, {"type", e.type()}}}}) + "data: [DONE]\n\n";
  }

  std::string whole(const GenerationResult& r, const std::vector<ToolCall>* calls) override {
    return completion_response(req_, r, ctx_, calls).dump(-1, ' ', false, json::error_handler_t::replace);
  }

 private:
  const ApiRequest& req_;
  ResponseContext ctx_;
  bool first_ = true;
};

}  // namespace

std::unique_ptr<AnswerWriter> openai_answer_writer(const ApiRequest& req, ResponseContext ctx) {
  return std::make_unique<OpenAiWriter>(req, std::move(ctx));
}

}  // namespace mlxcpp
