#include "server/responses_protocol.h"

#include <fmt/format.h>

#include <set>

#include "server/request_fields.h"

namespace mlxcpp {

using ojson = nlohmann::ordered_json;

// ── the store ───────────────────────────────────────────────────────────────────────────

std::optional<ojson> ResponseStore::conversation(const std::string& response_id) {
  std::lock_guard lock(mu_);
  const auto it = by_id_.find(response_id);
  if (it == by_id_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->conversation;
}

std::optional<ojson> ResponseStore::item(const std::string& item_id) {
  std::lock_guard lock(mu_);
  const auto it = by_item_.find(item_id);
  if (it == by_item_.end()) return std::nullopt;
  for (const auto& item : it->second->output)
    if (item.value("id", "") == item_id) return item;
  return std::nullopt;
}

void ResponseStore::put(const std::string& response_id, ojson conversation, const ojson& output) {
  Stored s{response_id, std::move(conversation), output, 0};
  s.bytes = s.conversation.dump().size() + s.output.dump().size();
  std::lock_guard lock(mu_);
  if (s.bytes > max_bytes_) return;  // one conversation larger than the whole store
  lru_.push_front(std::move(s));
  bytes_ += lru_.front().bytes;
  by_id_[response_id] = lru_.begin();
  for (const auto& item : lru_.front().output) by_item_[item.value("id", "")] = lru_.begin();
  while (lru_.size() > max_responses_ || bytes_ > max_bytes_) {
    const Stored& old = lru_.back();
    by_id_.erase(old.id);
    for (const auto& item : old.output) by_item_.erase(item.value("id", ""));
    bytes_ -= old.bytes;
    lru_.pop_back();
  }
}

namespace {

// ── input items → chat messages ─────────────────────────────────────────────────────────

// Message content: input_text, output_text or text parts, or a refusal.
const std::map<std::string, std::string> kTextParts = {
    {"input_text", "text"}, {"output_text", "text"}, {"text", "text"}, {"refusal", "refusal"}};

void append_item(ojson& messages, const ojson& item, const std::string& where, ResponseStore& store, int depth) {
  if (!item.is_object()) bad_request(where, "each input item must be an object");
  const std::string type = item.value("type", item.contains("role") ? "message" : "");
  if (type == "item_reference") {
    const std::string id = item.value("id", "");
    const auto stored = store.item(id);
    if (!stored || depth > 0)
      throw ApiError(404, "invalid_request_error", where, fmt::format("item '{}' is not stored on this server", id));
    return append_item(messages, *stored, where, store, depth + 1);
  }
  if (type == "message") {
    const std::string role = item.value("role", "");
    if (role != "user" && role != "system" && role != "developer" && role != "assistant")
      bad_request(where + ".role", fmt::format("unknown role '{}'", role));
    messages.push_back({{"role", role == "developer" ? "system" : role}, {"content", joined_text(item.value("content", ojson("")), where + ".content", kTextParts)}});
    return;
  }
  if (type == "function_call") {
    for (const char* k : {"call_id", "name", "arguments"})
      if (!item.contains(k) || !item[k].is_string()) bad_request(where, fmt::format("a function_call item needs a string '{}'", k));
    // Chat templates take the arguments as an object.
    ojson args = ojson::parse(item["arguments"].get<std::string>(), nullptr, false);
    if (args.is_discarded()) args = item["arguments"];
    const ojson call = {{"id", item["call_id"]}, {"type", "function"}, {"function", {{"name", item["name"]}, {"arguments", args}}}};
    if (!messages.empty() && messages.back()["role"] == "assistant") messages.back()["tool_calls"].push_back(call);
    else messages.push_back({{"role", "assistant"}, {"content", ""}, {"tool_calls", ojson::array({call})}});
    return;
  }
  if (type == "function_call_output") {
    if (!item.contains("call_id") || !item["call_id"].is_string()) bad_request(where, "a function_call_output item needs a string 'call_id'");
    ojson out = {{"role", "tool"}, {"tool_call_id", item["call_id"]}, {"content", joined_text(item.value("output", ojson("")), where + ".output", kTextParts)}};
    for (const auto& m : messages)  // the call's name, which some templates print
      for (const auto& c : m.value("tool_calls", ojson::array()))
        if (c["id"] == item["call_id"]) out["name"] = c["function"]["name"];
    messages.push_back(out);
    return;
  }
  if (type == "reasoning") return;  // a reasoning model's summary: nothing a template takes
  bad_request(where, fmt::format("input item type '{}' is not supported (message, function_call, function_call_output, item_reference)", type));
}

ojson chat_tools(const ojson& tools) {
  if (!tools.is_array()) bad_request("tools", "'tools' must be a list");
  ojson out = ojson::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const ojson& t = tools[i];
    const std::string where = fmt::format("tools[{}]", i);
    const std::string type = t.is_object() ? t.value("type", "") : "";
    if (type != "function")
      bad_request(where, fmt::format("tool type '{}' is not supported (function tools only)", type));
    if (!t.contains("name") || !t["name"].is_string()) bad_request(where, "a function tool needs a string 'name'");
    ojson f = {{"name", t["name"]}};
    if (t.contains("description") && t["description"].is_string()) f["description"] = t["description"];
    f["parameters"] = t.contains("parameters") && t["parameters"].is_object() ? t["parameters"] : ojson{{"type", "object"}, {"properties", ojson::object()}};
    out.push_back({{"type", "function"}, {"function", f}});
  }
  return out;
}

void parse_text_format(const ojson& text, ApiRequest& r) {
  if (!text.is_object()) bad_request("text", "'text' must be an object");
  for (const auto& [k, v] : text.items())
    if (k != "format" && k != "verbosity") bad_request("text." + k, fmt::format("unknown or unsupported field 'text.{}'", k));
  if (!has_field(text, "format")) return;
  const ojson& f = text["format"];
  if (!f.is_object() || !f.contains("type") || !f["type"].is_string()) bad_request("text.format", "'text.format' must be an object with a 'type'");
  const std::string type = f["type"];
  if (type == "json_object") r.json_schema = ojson{{"type", "object"}};
  else if (type == "json_schema") {
    if (!f.contains("schema") || (!f["schema"].is_object() && !f["schema"].is_boolean()))
      bad_request("text.format", "text.format json_schema needs {\"type\": \"json_schema\", \"name\": …, \"schema\": {…}}");
    r.json_schema = f["schema"];
  } else if (type != "text") {
    bad_request("text.format", fmt::format("text.format type '{}' is not supported (text, json_object, json_schema)", type));
  }
}

}  // namespace

ResponsesRequest parse_responses_request(std::string_view body, const ApiLimits& limits, ResponseStore& store) {
  const ojson j = parse_request_body(body);
  ResponsesRequest out;
  ApiRequest& r = out.api;
  r.kind = ApiRequest::Kind::Chat;
  std::set<std::string> known{"model", "input", "instructions", "tools", "tool_choice", "text", "max_output_tokens", "stream",
                              "previous_response_id", "store", "metadata", "parallel_tool_calls", "user", "truncation",
                              "include", "reasoning", "service_tier", "prompt_cache_key", "safety_identifier",
                              "top_logprobs", "background"};
  r.sampling.temperature = limits.default_temperature;
  parse_sampling_fields(j, r.sampling, 2, known);
  reject_unknown_fields(j, known);
  read_model_and_check_sampling(j, r);
  r.max_tokens = limits.default_max_tokens;
  if (has_field(j, "max_output_tokens")) r.max_tokens = int(integer_field(j, "max_output_tokens", 1, limits.max_tokens_cap));
  if (has_field(j, "stream")) r.stream = boolean_field(j, "stream");
  if (has_field(j, "store")) out.store = boolean_field(j, "store");
  if (has_field(j, "background") && boolean_field(j, "background"))
    bad_request("background", "background responses are not supported: leave 'background' unset");
  if (has_field(j, "top_logprobs") && integer_field(j, "top_logprobs", 0, 20) > 0)
    bad_request("top_logprobs", "log probabilities are not given on /v1/responses (use /v1/chat/completions)");
  for (const char* k : {"user", "truncation", "service_tier", "prompt_cache_key", "safety_identifier"})
    if (has_field(j, k) && !j[k].is_string()) bad_request(k, fmt::format("'{}' must be a string", k));
  if (has_field(j, "truncation") && j["truncation"] != "disabled" && j["truncation"] != "auto")
    bad_request("truncation", "'truncation' must be disabled or auto");
  if (has_field(j, "metadata") && !j["metadata"].is_object()) bad_request("metadata", "'metadata' must be an object");
  if (has_field(j, "include") && !j["include"].is_array()) bad_request("include", "'include' must be a list");
  if (has_field(j, "reasoning") && !j["reasoning"].is_object()) bad_request("reasoning", "'reasoning' must be an object");
  if (has_field(j, "parallel_tool_calls")) r.parallel_tool_calls = boolean_field(j, "parallel_tool_calls");

  // The conversation: the previous response's, then this input.
  out.conversation = ojson::array();
  if (has_field(j, "previous_response_id")) {
    if (!j["previous_response_id"].is_string()) bad_request("previous_response_id", "'previous_response_id' must be a string");
    const std::string id = j["previous_response_id"];
    auto earlier = store.conversation(id);
    if (!earlier)
      throw ApiError(404, "invalid_request_error", "previous_response_id",
                     fmt::format("response '{}' is not stored on this server (it was not stored, or it was evicted)", id));
    out.conversation = std::move(*earlier);
  }
  if (!j.contains("input")) bad_request("input", "'input' is required");
  if (j["input"].is_string()) out.conversation.push_back({{"role", "user"}, {"content", j["input"]}});
  else if (j["input"].is_array()) {
    for (size_t i = 0; i < j["input"].size(); ++i) append_item(out.conversation, j["input"][i], fmt::format("input[{}]", i), store, 0);
  } else bad_request("input", "'input' must be a string or a list of items");
  if (out.conversation.empty()) bad_request("input", "'input' must not be empty");
  r.messages = ojson::array();
  if (has_field(j, "instructions")) {
    if (!j["instructions"].is_string()) bad_request("instructions", "'instructions' must be a string");
    r.messages.push_back({{"role", "system"}, {"content", j["instructions"]}});
  }
  for (const auto& m : out.conversation) r.messages.push_back(m);

  if (has_field(j, "tool_choice")) {
    const ojson& tc = j["tool_choice"];
    if (tc.is_string() && (tc == "auto" || tc == "none" || tc == "required")) r.tool_choice = tc;
    else if (tc.is_object() && tc.value("type", "") == "function" && tc.contains("name") && tc["name"].is_string()) {
      r.tool_choice = "function";
      r.tool_name = tc["name"];
    } else bad_request("tool_choice", "tool_choice must be auto, none, required or {\"type\": \"function\", \"name\": …}");
  }
  if (has_field(j, "tools")) {
    const ojson tools = chat_tools(j["tools"]);
    if (r.tool_choice != "none" && !tools.empty()) r.tools = tools;
  }
  if (has_field(j, "text")) parse_text_format(j["text"], r);
  check_tool_choice(r);

  ojson& e = out.echo;
  e["instructions"] = j.value("instructions", ojson(nullptr));
  e["max_output_tokens"] = j.value("max_output_tokens", ojson(nullptr));
  e["metadata"] = j.value("metadata", ojson::object());
  e["parallel_tool_calls"] = j.value("parallel_tool_calls", ojson(true));
  e["previous_response_id"] = j.value("previous_response_id", ojson(nullptr));
  e["reasoning"] = j.value("reasoning", ojson{{"effort", nullptr}, {"summary", nullptr}});
  e["store"] = out.store;
  e["temperature"] = r.sampling.temperature;
  e["text"] = {{"format", has_field(j, "text") && has_field(j["text"], "format") ? j["text"]["format"] : ojson{{"type", "text"}}}};
  e["tool_choice"] = j.value("tool_choice", ojson("auto"));
  e["tools"] = j.value("tools", ojson::array());
  e["top_p"] = r.sampling.top_p;
  e["truncation"] = j.value("truncation", ojson("disabled"));
  e["user"] = j.value("user", ojson(nullptr));
  return out;
}

// ── the answer ──────────────────────────────────────────────────────────────────────────

namespace {

class ResponsesWriter final : public AnswerWriter {
 public:
  ResponsesWriter(ResponsesRequest req, ResponseContext ctx, std::shared_ptr<ResponseStore> store)
      : req_(std::move(req)), ctx_(std::move(ctx)), store_(std::move(store)) {}

  std::string stream_open() override {
    // (Events are numbered as they are made: one statement each.)
    const ojson r = object("in_progress", ojson::array(), nullptr);
    std::string out = event("response.created", {{"response", r}});
    return out += event("response.in_progress", {{"response", r}});
  }

  std::string stream_text(const std::string& text) override {
    std::string out = open_message();
    return out += event("response.output_text.delta", {{"item_id", message_id_}, {"output_index", 0}, {"content_index", 0},
                                                       {"delta", text}, {"logprobs", ojson::array()}});
  }

  std::string stream_close(const GenerationResult& r, const std::vector<ToolCall>* calls) override {
    const ojson items = finish(r, calls);
    std::string out;
    if (calls) {
      for (size_t i = 0; i < items.size(); ++i) {
        ojson added = items[i];
        added["arguments"] = "";
        added["status"] = "in_progress";
        out += event("response.output_item.added", {{"output_index", i}, {"item", added}});
        out += event("response.function_call_arguments.delta", {{"item_id", items[i]["id"]}, {"output_index", i}, {"delta", items[i]["arguments"]}});
        out += event("response.function_call_arguments.done", {{"item_id", items[i]["id"]}, {"output_index", i}, {"arguments", items[i]["arguments"]}});
        out += event("response.output_item.done", {{"output_index", i}, {"item", items[i]}});
      }
    } else {
      out += open_message();
      const ojson& part = items[0]["content"][0];
      out += event("response.output_text.done", {{"item_id", message_id_}, {"output_index", 0}, {"content_index", 0}, {"text", part["text"]}, {"logprobs", ojson::array()}});
      out += event("response.content_part.done", {{"item_id", message_id_}, {"output_index", 0}, {"content_index", 0}, {"part", part}});
      out += event("response.output_item.done", {{"output_index", 0}, {"item", items[0]}});
    }
    const ojson response = object(status(r), items, usage(r));
    return out += event(status(r) == "completed" ? "response.completed" : "response.incomplete", {{"response", response}});
  }

  std::string stream_error(const ApiError& e) override {
    return event("error", {{"code", e.type()}, {"message", e.what()}, {"param", e.param().empty() ? ojson(nullptr) : ojson(e.param())}});
  }

  std::string whole(const GenerationResult& r, const std::vector<ToolCall>* calls) override {
    return object(status(r), finish(r, calls), usage(r)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

 private:
  static std::string status(const GenerationResult& r) { return r.finish_reason == "length" ? "incomplete" : "completed"; }

  static ojson usage(const GenerationResult& r) {
    return {{"input_tokens", r.prompt_tokens},
            {"input_tokens_details", {{"cached_tokens", r.cached_prompt_tokens}}},
            {"output_tokens", r.generation_tokens},
            {"output_tokens_details", {{"reasoning_tokens", 0}}},
            {"total_tokens", r.prompt_tokens + r.generation_tokens}};
  }

  ojson object(const std::string& status, const ojson& output, const ojson& usage) const {
    ojson o = {{"id", ctx_.id}, {"object", "response"}, {"created_at", ctx_.created}, {"status", status},
               {"error", nullptr},
               {"incomplete_details", status == "incomplete" ? ojson{{"reason", "max_output_tokens"}} : ojson(nullptr)}};
    for (const auto& [k, v] : req_.echo.items()) o[k] = v;
    o["model"] = ctx_.model;
    o["output"] = output;
    o["usage"] = usage;
    return o;
  }

  std::string event(const std::string& type, const ojson& fields) {
    ojson e = {{"type", type}};
    for (const auto& [k, v] : fields.items()) e[k] = v;
    e["sequence_number"] = sequence_++;
    return sse_event(e, type);
  }

  std::string open_message() {
    if (message_open_) return "";
    message_open_ = true;
    const ojson item = {{"type", "message"}, {"id", message_id_}, {"status", "in_progress"}, {"role", "assistant"}, {"content", ojson::array()}};
    std::string out = event("response.output_item.added", {{"output_index", 0}, {"item", item}});
    return out += event("response.content_part.added", {{"item_id", message_id_}, {"output_index", 0}, {"content_index", 0},
                                                 {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", ojson::array()}}}});
  }

  // The output items, kept (store: true) with the conversation they end.
  ojson finish(const GenerationResult& r, const std::vector<ToolCall>* calls) {
    ojson items = ojson::array();
    ojson conversation = req_.conversation;
    if (calls) {
      ojson assistant = {{"role", "assistant"}, {"content", ""}, {"tool_calls", ojson::array()}};
      for (const ToolCall& c : *calls) {
        const std::string call_id = random_id("call_");
        items.push_back({{"type", "function_call"}, {"id", random_id("fc_")}, {"call_id", call_id}, {"name", c.name},
                         {"arguments", c.arguments}, {"status", "completed"}});
        assistant["tool_calls"].push_back({{"id", call_id}, {"type", "function"},
                                           {"function", {{"name", c.name}, {"arguments", ojson::parse(c.arguments, nullptr, false)}}}});
      }
      conversation.push_back(assistant);
    } else {
      items.push_back({{"type", "message"}, {"id", message_id_}, {"status", status(r)}, {"role", "assistant"},
                       {"content", ojson::array({{{"type", "output_text"}, {"text", r.text}, {"annotations", ojson::array()}, {"logprobs", ojson::array()}}})}});
      conversation.push_back({{"role", "assistant"}, {"content", r.text}});
    }
    if (req_.store && store_) store_->put(ctx_.id, std::move(conversation), items);
    return items;
  }

  ResponsesRequest req_;
  ResponseContext ctx_;
  std::shared_ptr<ResponseStore> store_;
  const std::string message_id_ = random_id("msg_");
  bool message_open_ = false;
  int64_t sequence_ = 0;
};

}  // namespace

std::unique_ptr<AnswerWriter> responses_answer_writer(ResponsesRequest request, ResponseContext ctx, std::shared_ptr<ResponseStore> store) {
  return std::make_unique<ResponsesWriter>(std::move(request), std::move(ctx), std::move(store));
}

}  // namespace mlxcpp
