#include "server/anthropic_protocol.h"

#include <fmt/format.h>

#include <set>

#include "server/request_fields.h"

namespace mlxcpp {

using ojson = nlohmann::ordered_json;

namespace {

// One Anthropic message → chat messages: a user turn's tool results become tool messages
// (before its text), an assistant turn's tool_use blocks its tool calls.
void append_message(ojson& messages, const ojson& m, const std::string& where) {
  if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) bad_request(where, "each message needs a string 'role'");
  const std::string role = m["role"];
  if (role != "user" && role != "assistant") bad_request(where + ".role", fmt::format("role '{}' must be user or assistant", role));
  if (!m.contains("content")) bad_request(where, "each message needs 'content'");
  const ojson& content = m["content"];
  if (content.is_string()) {
    messages.push_back({{"role", role}, {"content", content}});
    return;
  }
  if (!content.is_array()) bad_request(where + ".content", "content must be a string or a list of content blocks");
  std::string text;
  ojson calls = ojson::array();
  for (size_t i = 0; i < content.size(); ++i) {
    const ojson& b = content[i];
    const std::string at = fmt::format("{}.content[{}]", where, i);
    const std::string type = b.is_object() ? b.value("type", "") : "";
    if (type == "text" && b.contains("text") && b["text"].is_string()) {
      text += b["text"].get<std::string>();
    } else if (type == "tool_use" && role == "assistant") {
      if (!b.contains("id") || !b["id"].is_string() || !b.contains("name") || !b["name"].is_string())
        bad_request(at, "a tool_use block needs a string 'id' and 'name'");
      calls.push_back({{"id", b["id"]}, {"type", "function"}, {"function", {{"name", b["name"]}, {"arguments", b.value("input", ojson::object())}}}});
    } else if (type == "tool_result" && role == "user") {
      if (!b.contains("tool_use_id") || !b["tool_use_id"].is_string()) bad_request(at, "a tool_result block needs a string 'tool_use_id'");
      ojson result = {{"role", "tool"}, {"tool_call_id", b["tool_use_id"]},
                      {"content", b.contains("content") ? joined_text(b["content"], at + ".content") : ""}};
      for (const auto& earlier : messages)  // the call's name, which some templates print
        for (const auto& c : earlier.value("tool_calls", ojson::array()))
          if (c["id"] == b["tool_use_id"]) result["name"] = c["function"]["name"];
      messages.push_back(result);
    } else if ((type == "thinking" || type == "redacted_thinking") && role == "assistant") {
      continue;  // earlier reasoning: chat templates drop it too
    } else {
      bad_request(at, fmt::format("content block type '{}' is not supported in a {} message (text, tool_use, tool_result)", type, role));
    }
  }
  if (role == "assistant") {
    ojson a = {{"role", "assistant"}, {"content", text}};
    if (!calls.empty()) a["tool_calls"] = calls;
    messages.push_back(a);
  } else if (!text.empty() || messages.empty() || messages.back()["role"] != "tool") {
    messages.push_back({{"role", "user"}, {"content", text}});
  }
}

ojson chat_tools(const ojson& tools) {
  if (!tools.is_array()) bad_request("tools", "'tools' must be a list");
  ojson out = ojson::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const ojson& t = tools[i];
    const std::string where = fmt::format("tools[{}]", i);
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) bad_request(where, "each tool needs a string 'name'");
    if (has_field(t, "type") && t["type"] != "custom")
      bad_request(where, fmt::format("server tool type '{}' is not supported (client tools with input_schema only)", t["type"].dump()));
    if (!t.contains("input_schema") || !t["input_schema"].is_object()) bad_request(where, "each tool needs an 'input_schema' object");
    ojson f = {{"name", t["name"]}};
    if (t.contains("description") && t["description"].is_string()) f["description"] = t["description"];
    f["parameters"] = t["input_schema"];
    out.push_back({{"type", "function"}, {"function", f}});
  }
  return out;
}

}  // namespace

ApiRequest parse_messages_request(std::string_view body, const ApiLimits& limits, bool count_only) {
  const ojson j = parse_request_body(body);
  ApiRequest r;
  r.kind = ApiRequest::Kind::Chat;
  std::set<std::string> known{"model", "messages", "system", "tools", "tool_choice", "thinking"};
  if (!count_only) {
    known.insert({"max_tokens", "stop_sequences", "stream", "metadata", "service_tier"});
    r.sampling.temperature = limits.default_temperature;
    parse_sampling_fields(j, r.sampling, 1, known);  // Anthropic's temperature goes to 1
  }
  reject_unknown_fields(j, known);
  read_model_and_check_sampling(j, r);
  if (!count_only) {
    if (!j.contains("max_tokens")) bad_request("max_tokens", "'max_tokens' is required");
    r.max_tokens = int(integer_field(j, "max_tokens", 1, limits.max_tokens_cap));
    if (has_field(j, "stream")) r.stream = boolean_field(j, "stream");
    if (has_field(j, "stop_sequences")) {
      const ojson& s = j["stop_sequences"];
      if (!s.is_array() || s.size() > 16) bad_request("stop_sequences", "'stop_sequences' must be a list of up to 16 strings");
      for (const auto& x : s) {
        if (!x.is_string() || x.get<std::string>().empty()) bad_request("stop_sequences", "each stop sequence must be a non-empty string");
        r.stop.push_back(x);
      }
    }
    if (has_field(j, "metadata") && !j["metadata"].is_object()) bad_request("metadata", "'metadata' must be an object");
  }
  r.messages = ojson::array();
  if (has_field(j, "system")) {
    const std::string system = joined_text(j["system"], "system");
    if (!system.empty()) r.messages.push_back({{"role", "system"}, {"content", system}});
  }
  if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
    bad_request("messages", "'messages' must be a non-empty list");
  for (size_t i = 0; i < j["messages"].size(); ++i) append_message(r.messages, j["messages"][i], fmt::format("messages[{}]", i));
  if (has_field(j, "tool_choice")) {
    const ojson& tc = j["tool_choice"];
    const std::string type = tc.is_object() ? tc.value("type", "") : "";
    if (has_field(tc, "disable_parallel_tool_use")) r.parallel_tool_calls = !boolean_field(tc, "disable_parallel_tool_use");
    if (type == "auto" || type == "none") r.tool_choice = type;
    else if (type == "any") r.tool_choice = "required";
    else if (type == "tool" && tc.contains("name") && tc["name"].is_string()) {
      r.tool_choice = "function";
      r.tool_name = tc["name"];
    } else bad_request("tool_choice", "tool_choice must be {\"type\": auto | any | none} or {\"type\": \"tool\", \"name\": …}");
  }
  if (has_field(j, "tools")) {
    const ojson tools = chat_tools(j["tools"]);
    if (r.tool_choice != "none" && !tools.empty()) r.tools = tools;
  }
  check_tool_choice(r);
  if (has_field(j, "thinking")) {
    // Models that think (Qwen3's <think>) are told so through their template.
    const ojson& t = j["thinking"];
    const std::string type = t.is_object() ? t.value("type", "") : "";
    if (type != "enabled" && type != "disabled") bad_request("thinking", "thinking must be {\"type\": \"enabled\" | \"disabled\"}");
    r.chat_template_kwargs["enable_thinking"] = type == "enabled";
  }
  return r;
}

nlohmann::json anthropic_error_json(const ApiError& e) {
  const char* type = "api_error";
  switch (e.status()) {
    case 400: case 405: case 415: case 431: type = "invalid_request_error"; break;
    case 401: type = "authentication_error"; break;
    case 403: type = "permission_error"; break;
    case 404: type = "not_found_error"; break;
    case 413: type = "request_too_large"; break;
    case 429: type = "rate_limit_error"; break;
    case 503: case 529: type = "overloaded_error"; break;
    default: break;
  }
  return {{"type", "error"}, {"error", {{"type", type}, {"message", e.what()}}}};
}

namespace {

class MessagesWriter final : public AnswerWriter {
 public:
  explicit MessagesWriter(ResponseContext ctx) : ctx_(std::move(ctx)) {}

  std::string stream_open() override {
    ojson m = message(ojson::array(), nullptr, nullptr, {{"input_tokens", ctx_.prompt_tokens}, {"output_tokens", 0}});
    return sse_event({{"type", "message_start"}, {"message", m}}, "message_start") + sse_event({{"type", "ping"}}, "ping");
  }

  std::string stream_text(const std::string& text) override {
    std::string out;
    if (!text_open_) {
      text_open_ = true;
      out += sse_event({{"type", "content_block_start"}, {"index", blocks_}, {"content_block", {{"type", "text"}, {"text", ""}}}},
                       "content_block_start");
    }
    return out + sse_event({{"type", "content_block_delta"}, {"index", blocks_}, {"delta", {{"type", "text_delta"}, {"text", text}}}},
                           "content_block_delta");
  }

  std::string stream_close(const GenerationResult& r, const std::vector<ToolCall>* calls) override {
    std::string out;
    if (text_open_) out += sse_event({{"type", "content_block_stop"}, {"index", blocks_++}}, "content_block_stop");
    if (calls)
      for (const auto& b : tool_blocks(*calls)) {
        ojson start = b;
        start["input"] = ojson::object();
        out += sse_event({{"type", "content_block_start"}, {"index", blocks_}, {"content_block", start}}, "content_block_start");
        out += sse_event({{"type", "content_block_delta"}, {"index", blocks_}, {"delta", {{"type", "input_json_delta"}, {"partial_json", b["input"].dump()}}}},
                         "content_block_delta");
        out += sse_event({{"type", "content_block_stop"}, {"index", blocks_++}}, "content_block_stop");
      }
    out += sse_event({{"type", "message_delta"}, {"delta", {{"stop_reason", stop_reason(r, calls)}, {"stop_sequence", stop_sequence(r)}}},
                      {"usage", usage(r)}}, "message_delta");
    return out + sse_event({{"type", "message_stop"}}, "message_stop");
  }

  std::string stream_error(const ApiError& e) override { return sse_event(anthropic_error_json(e), "error"); }

  std::string whole(const GenerationResult& r, const std::vector<ToolCall>* calls) override {
    ojson content = ojson::array();
    if (!calls) content.push_back({{"type", "text"}, {"text", r.text}});
    else content = tool_blocks(*calls);
    return message(content, stop_reason(r, calls), stop_sequence(r), usage(r)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

 private:
  ojson message(const ojson& content, const ojson& stop_reason, const ojson& stop_sequence, const ojson& usage) const {
    return {{"id", ctx_.id}, {"type", "message"}, {"role", "assistant"}, {"model", ctx_.model}, {"content", content},
            {"stop_reason", stop_reason}, {"stop_sequence", stop_sequence}, {"usage", usage}};
  }

  static ojson tool_blocks(const std::vector<ToolCall>& calls) {
    ojson out = ojson::array();
    for (const ToolCall& c : calls)
      out.push_back({{"type", "tool_use"}, {"id", random_id("toolu_")}, {"name", c.name}, {"input", ojson::parse(c.arguments, nullptr, false)}});
    return out;
  }

  static std::string stop_reason(const GenerationResult& r, const std::vector<ToolCall>* calls) {
    if (calls) return "tool_use";
    if (r.finish_reason == "length") return "max_tokens";
    return r.stop_string.empty() ? "end_turn" : "stop_sequence";
  }

  static ojson stop_sequence(const GenerationResult& r) { return r.stop_string.empty() ? ojson(nullptr) : ojson(r.stop_string); }

  // Anthropic counts prompt tokens read from the cache apart from the others.
  static ojson usage(const GenerationResult& r) {
    return {{"input_tokens", r.prompt_tokens - r.cached_prompt_tokens}, {"output_tokens", r.generation_tokens},
            {"cache_creation_input_tokens", 0}, {"cache_read_input_tokens", r.cached_prompt_tokens}};
  }

  ResponseContext ctx_;
  bool text_open_ = false;
  int blocks_ = 0;
};

}  // namespace

std::unique_ptr<AnswerWriter> messages_answer_writer(ResponseContext ctx) { return std::make_unique<MessagesWriter>(std::move(ctx)); }

}  // namespace mlxcpp
