#include "server/openai_protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "tokenizer/tokenizer.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

[[noreturn]] void bad(const std::string& param, const std::string& message) {
  throw ApiError(400, "invalid_request_error", param, message);
}

ojson parse_body(std::string_view body) {
  if (json_nesting_exceeds(body, kMaxJsonDepth)) bad("", fmt::format("the request body nests more than {} levels", kMaxJsonDepth));
  auto j = ojson::parse(body, nullptr, false);
  if (j.is_discarded()) bad("", "the request body is not valid JSON");
  if (!j.is_object()) bad("", "the request body must be a JSON object");
  return j;
}

double number(const ojson& j, const std::string& key, double lo, double hi) {
  const auto& v = j[key];
  if (!v.is_number()) bad(key, fmt::format("'{}' must be a number", key));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) bad(key, fmt::format("'{}' must be between {} and {} (got {})", key, lo, hi, x));
  return x;
}

int64_t integer(const ojson& j, const std::string& key, int64_t lo, int64_t hi) {
  const auto& v = j[key];
  if (!v.is_number_integer()) bad(key, fmt::format("'{}' must be an integer", key));
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) bad(key, fmt::format("'{}' must be between {} and {} (got {})", key, lo, hi, x));
  return x;
}

bool boolean(const ojson& j, const std::string& key) {
  if (!j[key].is_boolean()) bad(key, fmt::format("'{}' must be true or false", key));
  return j[key].get<bool>();
}

// The fields both endpoints share; `known` collects the names accepted so far.
void parse_common(const ojson& j, ApiRequest& r, const ApiLimits& limits, std::set<std::string>& known) {
  known.insert({"model", "max_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop", "presence_penalty",
                "frequency_penalty", "repetition_penalty", "repetition_context_size", "logit_bias", "n", "stream",
                "stream_options", "user", "response_format", "grammar"});
  if (j.contains("model")) {
    if (!j["model"].is_string()) bad("model", "'model' must be a string");
    r.model = j["model"];
  }
  r.max_tokens = limits.default_max_tokens;
  if (j.contains("max_tokens") && !j["max_tokens"].is_null()) r.max_tokens = int(integer(j, "max_tokens", 0, limits.max_tokens_cap));
  r.sampling.temperature = limits.default_temperature;
  if (j.contains("temperature") && !j["temperature"].is_null()) r.sampling.temperature = float(number(j, "temperature", 0, 2));
  if (j.contains("top_p") && !j["top_p"].is_null()) r.sampling.top_p = float(number(j, "top_p", 0, 1));
  if (j.contains("top_k") && !j["top_k"].is_null()) r.sampling.top_k = int(integer(j, "top_k", 0, 1 << 20));
  if (j.contains("min_p") && !j["min_p"].is_null()) r.sampling.min_p = float(number(j, "min_p", 0, 1));
  if (j.contains("seed") && !j["seed"].is_null()) r.sampling.seed = uint64_t(integer(j, "seed", INT64_MIN, INT64_MAX));
  if (j.contains("presence_penalty") && !j["presence_penalty"].is_null())
    r.sampling.presence_penalty = float(number(j, "presence_penalty", -2, 2));
  if (j.contains("frequency_penalty") && !j["frequency_penalty"].is_null())
    r.sampling.frequency_penalty = float(number(j, "frequency_penalty", -2, 2));
  if (j.contains("repetition_penalty") && !j["repetition_penalty"].is_null())
    r.sampling.repetition_penalty = float(number(j, "repetition_penalty", 0, 10));
  if (j.contains("repetition_context_size") && !j["repetition_context_size"].is_null())
    r.sampling.repetition_context_size = int(integer(j, "repetition_context_size", 1, 1 << 20));
  if (j.contains("logit_bias") && !j["logit_bias"].is_null()) {
    if (!j["logit_bias"].is_object()) bad("logit_bias", "'logit_bias' must be an object of token id → bias");
    for (const auto& [k, v] : j["logit_bias"].items()) {
      size_t used = 0;
      long long id = -1;
      try {
        id = std::stoll(k, &used);
      } catch (...) {
      }
      if (used != k.size() || id < 0 || id > INT32_MAX) bad("logit_bias", fmt::format("logit_bias key '{}' is not a token id", k));
      if (!v.is_number() || v.get<double>() < -100 || v.get<double>() > 100)
        bad("logit_bias", fmt::format("logit_bias for token {} must be a number in [-100, 100]", k));
      r.sampling.logit_bias[int32_t(id)] = v.get<float>();
    }
  }
  if (j.contains("n") && !j["n"].is_null() && integer(j, "n", 1, 128) != 1) bad("n", "only n = 1 is supported");
  if (j.contains("stop") && !j["stop"].is_null()) {
    const auto& s = j["stop"];
    if (s.is_string()) r.stop.push_back(s);
    else if (s.is_array() && s.size() <= 16) {
      for (const auto& x : s) {
        if (!x.is_string()) bad("stop", "'stop' must be a string or a list of strings");
        r.stop.push_back(x);
      }
    } else bad("stop", "'stop' must be a string or a list of up to 16 strings");
    for (const auto& x : r.stop)
      if (x.empty()) bad("stop", "stop strings must not be empty");
  }
  if (j.contains("stream") && !j["stream"].is_null()) r.stream = boolean(j, "stream");
  if (j.contains("stream_options") && !j["stream_options"].is_null()) {
    const auto& so = j["stream_options"];
    if (!so.is_object()) bad("stream_options", "'stream_options' must be an object");
    for (const auto& [k, v] : so.items())
      if (k != "include_usage") bad("stream_options." + k, fmt::format("unsupported stream option '{}'", k));
    if (so.contains("include_usage")) {
      if (!so["include_usage"].is_boolean()) bad("stream_options.include_usage", "'include_usage' must be true or false");
      r.include_usage = so["include_usage"];
    }
    if (!r.stream) bad("stream_options", "'stream_options' is only allowed with stream: true");
  }
  if (j.contains("user") && !j["user"].is_null() && !j["user"].is_string()) bad("user", "'user' must be a string");
  if (j.contains("response_format") && !j["response_format"].is_null()) {
    const auto& rf = j["response_format"];
    if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string())
      bad("response_format", "'response_format' must be an object with a 'type'");
    const std::string type = rf["type"];
    if (type == "json_object") {
      // (llama.cpp's server also takes a schema here.)
      r.json_schema = rf.contains("schema") ? rf["schema"] : ojson{{"type", "object"}};
    } else if (type == "json_schema") {
      if (!rf.contains("json_schema") || !rf["json_schema"].is_object() || !rf["json_schema"].contains("schema"))
        bad("response_format", "response_format json_schema needs {\"json_schema\": {\"name\": …, \"schema\": {…}}}");
      r.json_schema = rf["json_schema"]["schema"];
      if (!r.json_schema.is_object() && !r.json_schema.is_boolean())
        bad("response_format", "response_format.json_schema.schema must be an object");
    } else if (type != "text") {
      bad("response_format", fmt::format("response_format type '{}' is not supported (text, json_object, json_schema)", type));
    }
  }
  if (j.contains("grammar") && !j["grammar"].is_null()) {
    if (!j["grammar"].is_string() || j["grammar"].get<std::string>().empty())
      bad("grammar", "'grammar' must be a GBNF text (a rule named root)");
    if (!r.json_schema.is_null()) bad("grammar", "'grammar' and 'response_format' cannot be used together");
    r.grammar = j["grammar"];
  }
  try {
    validate_sampling(r.sampling);
  } catch (const Error& e) {
    bad("", e.what());
  }
}

void reject_unknown(const ojson& j, const std::set<std::string>& known) {
  for (const auto& [k, v] : j.items())
    if (!known.count(k)) bad(k, fmt::format("unknown or unsupported field '{}'", k));
}

// Message content as one string: a string, or a list of text parts.
std::string content_text(const ojson& content, size_t index) {
  const std::string where = fmt::format("messages[{}].content", index);
  if (content.is_null()) return "";
  if (content.is_string()) return content;
  if (!content.is_array()) bad(where, "content must be a string or a list of text parts");
  std::string out;
  for (const auto& part : content) {
    if (!part.is_object() || !part.contains("type") || part["type"] != "text" || !part.contains("text") || !part["text"].is_string())
      bad(where, "only text parts ({\"type\": \"text\", \"text\": …}) are supported");
    out += part["text"].get<std::string>();
  }
  return out;
}

}  // namespace

nlohmann::json ApiError::to_json() const {
  return {{"error", {{"message", what()}, {"type", type_}, {"param", param_.empty() ? json(nullptr) : json(param_)}, {"code", code_.empty() ? json(nullptr) : json(code_)}}}};
}

ApiRequest parse_chat_request(std::string_view body, const ApiLimits& limits) {
  const ojson j = parse_body(body);
  ApiRequest r;
  r.kind = ApiRequest::Kind::Chat;
  std::set<std::string> known{"messages", "max_completion_tokens", "logprobs", "top_logprobs", "tools", "tool_choice",
                              "chat_template_kwargs", "parallel_tool_calls"};
  parse_common(j, r, limits, known);
  reject_unknown(j, known);
  if (j.contains("max_completion_tokens") && !j["max_completion_tokens"].is_null())
    r.max_tokens = int(integer(j, "max_completion_tokens", 0, limits.max_tokens_cap));
  if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
    bad("messages", "'messages' must be a non-empty list");
  r.messages = ojson::array();
  size_t i = 0;
  for (const auto& m : j["messages"]) {
    const std::string where = fmt::format("messages[{}]", i);
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) bad(where, "each message needs a string 'role'");
    const std::string role = m["role"];
    if (role != "system" && role != "user" && role != "assistant" && role != "tool" && role != "developer")
      bad(where + ".role", fmt::format("unknown role '{}'", role));
    ojson out = {{"role", role == "developer" ? "system" : role}, {"content", content_text(m.value("content", ojson()), i)}};
    for (const auto& [k, v] : m.items()) {
      if (k == "role" || k == "content") continue;
      if (k == "name" || k == "tool_call_id") {
        out[k] = v;
      } else if (k == "tool_calls" && role == "assistant") {
        // OpenAI sends arguments as a JSON string; chat templates expect an object.
        ojson calls = v;
        if (!calls.is_array()) bad(where + ".tool_calls", "'tool_calls' must be a list");
        for (auto& c : calls)
          if (c.is_object() && c.contains("function") && c["function"].is_object() && c["function"].contains("arguments") &&
              c["function"]["arguments"].is_string()) {
            auto parsed = ojson::parse(c["function"]["arguments"].get<std::string>(), nullptr, false);
            if (!parsed.is_discarded()) c["function"]["arguments"] = parsed;
          }
        out[k] = calls;
      } else {
        bad(where + "." + k, fmt::format("unknown or unsupported message field '{}'", k));
      }
    }
    r.messages.push_back(out);
    ++i;
  }
  if (j.contains("logprobs") && !j["logprobs"].is_null() && boolean(j, "logprobs")) r.top_logprobs = 0;
  if (j.contains("top_logprobs") && !j["top_logprobs"].is_null()) {
    const int n = int(integer(j, "top_logprobs", 0, 20));
    if (r.top_logprobs < 0) bad("top_logprobs", "'top_logprobs' needs logprobs: true");
    r.top_logprobs = n;
  }
  if (j.contains("tool_choice") && !j["tool_choice"].is_null()) {
    const auto& tc = j["tool_choice"];
    if (tc.is_string()) {
      r.tool_choice = tc;
      if (r.tool_choice != "auto" && r.tool_choice != "none" && r.tool_choice != "required")
        bad("tool_choice", fmt::format("tool_choice '{}' is not one of auto, none, required", r.tool_choice));
    } else if (tc.is_object() && tc.value("type", "") == "function" && tc.contains("function") && tc["function"].is_object() &&
               tc["function"].contains("name") && tc["function"]["name"].is_string()) {
      r.tool_choice = "function";
      r.tool_name = tc["function"]["name"];
    } else {
      bad("tool_choice", "tool_choice must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": …}}");
    }
  }
  if (j.contains("tools") && !j["tools"].is_null()) {
    if (!j["tools"].is_array()) bad("tools", "'tools' must be a list");
    for (const auto& t : j["tools"])
      if (!t.is_object() || t.value("type", "") != "function" || !t.contains("function") || !t["function"].is_object() ||
          !t["function"].contains("name") || !t["function"]["name"].is_string())
        bad("tools", "each tool must be {\"type\": \"function\", \"function\": {\"name\": …, …}}");
    if (r.tool_choice != "none" && !j["tools"].empty()) r.tools = j["tools"];
  }
  if (r.tool_choice == "required" || r.tool_choice == "function") {
    if (r.tools.is_null()) bad("tool_choice", fmt::format("tool_choice '{}' needs tools", r.tool_choice));
    if (r.tool_choice == "function" &&
        std::none_of(r.tools.begin(), r.tools.end(), [&](const ojson& t) { return t["function"]["name"] == r.tool_name; }))
      bad("tool_choice", fmt::format("tool_choice names '{}', which is not among the tools", r.tool_name));
    if (!r.json_schema.is_null() || !r.grammar.empty())
      bad("tool_choice", "a required tool call and response_format or grammar cannot be used together");
  }
  if (j.contains("parallel_tool_calls") && !j["parallel_tool_calls"].is_null()) (void)boolean(j, "parallel_tool_calls");
  if (j.contains("chat_template_kwargs") && !j["chat_template_kwargs"].is_null()) {
    if (!j["chat_template_kwargs"].is_object()) bad("chat_template_kwargs", "'chat_template_kwargs' must be an object");
    r.chat_template_kwargs = j["chat_template_kwargs"];
  }
  return r;
}

ApiRequest parse_completion_request(std::string_view body, const ApiLimits& limits) {
  const ojson j = parse_body(body);
  ApiRequest r;
  r.kind = ApiRequest::Kind::Completion;
  std::set<std::string> known{"prompt", "logprobs"};
  parse_common(j, r, limits, known);
  reject_unknown(j, known);
  if (!j.contains("prompt")) bad("prompt", "'prompt' is required");
  if (j["prompt"].is_string()) r.prompt = j["prompt"];
  else if (j["prompt"].is_array() && j["prompt"].size() == 1 && j["prompt"][0].is_string()) r.prompt = j["prompt"][0];
  else bad("prompt", "'prompt' must be a string (one prompt per request)");
  if (r.prompt.empty()) bad("prompt", "'prompt' must not be empty");
  // The legacy completions API: logprobs is the number of alternatives (0–5).
  if (j.contains("logprobs") && !j["logprobs"].is_null()) r.top_logprobs = int(integer(j, "logprobs", 0, 5));
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

}  // namespace mlxcpp
