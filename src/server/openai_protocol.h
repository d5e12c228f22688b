// The OpenAI-compatible wire format: request bodies of /v1/chat/completions and
// /v1/completions parsed and validated (an unknown or unsupported field is a 400 naming
// it), and the response objects and stream chunks built. No I/O here: the HTTP server
// and the tests (and the fuzzer) call these directly.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/generator.h"
#include "server/answer_writer.h"
#include "server/tool_calls.h"
#include "util/error.h"

namespace mlxcpp {

// A request the server refuses: HTTP status, OpenAI error type, the offending parameter.
class ApiError : public Error {
 public:
  // `code`: OpenAI's machine-readable error code where it has one (context_length_exceeded).
  ApiError(int status, std::string type, std::string param, const std::string& message, std::string code = "")
      : Error(message), status_(status), type_(std::move(type)), param_(std::move(param)), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  nlohmann::json to_json() const;

 private:
  int status_;
  std::string type_, param_, code_;
};

// Request bodies (and MCP messages) nest at most this deep.
inline constexpr int kMaxJsonDepth = 64;

struct ApiLimits {
  int default_max_tokens = 512;   // mlx-lm's server default
  int max_tokens_cap = 8192;      // larger requests are refused
  float default_temperature = 0;  // mlx-lm's server default (greedy)
};

struct ApiRequest {
  enum class Kind { Chat, Completion } kind = Kind::Chat;
  std::string model;                  // as requested ("" → the served default)
  nlohmann::ordered_json messages;    // chat: [{role, content (string), ...}]
  nlohmann::ordered_json tools;       // chat: null when none (or tool_choice "none")
  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();
  std::string prompt;                 // completion
  int max_tokens = 512;
  SamplingParams sampling;
  std::vector<std::string> stop;
  bool stream = false, include_usage = false;
  int top_logprobs = -1;  // -1: none; 0: the chosen token's; N: top N too
  // Constrained output (at most one): a JSON schema (response_format json_schema, or
  // {"type": "object"} for json_object), a GBNF grammar, or a tool call that must come
  // (tool_choice "required", or the named function).
  nlohmann::ordered_json json_schema;  // null: none
  std::string grammar;
  std::string tool_choice = "auto";    // auto, none, required, or "function" (tool_name)
  std::string tool_name;
  bool parallel_tool_calls = true;     // false: at most one call (a required one: exactly one)
};

ApiRequest parse_chat_request(std::string_view body, const ApiLimits& limits);
ApiRequest parse_completion_request(std::string_view body, const ApiLimits& limits);

// Everything a response needs beyond the generation itself.
struct ResponseContext {
  std::string id;       // chatcmpl-… / cmpl-… / resp_… / msg_…
  int64_t created = 0;  // unix seconds
  std::string model;    // as requested
  const Tokenizer* tokenizer = nullptr;  // for logprob token texts
  int64_t prompt_tokens = 0;             // known before generation (a stream's first event)
};

// The complete (non-streamed) answer; tool calls when the text parsed as such.
nlohmann::ordered_json completion_response(const ApiRequest& req, const GenerationResult& result,
                                           const ResponseContext& ctx, const std::vector<ToolCall>* tool_calls);
// A stream chunk carrying text (delta content for chat, text for completions).
nlohmann::ordered_json text_chunk(const ApiRequest& req, const ResponseContext& ctx, const std::string& text, bool first);
// A chunk carrying tool calls (chat only).
nlohmann::ordered_json tool_calls_chunk(const ResponseContext& ctx, const std::vector<ToolCall>& calls);
nlohmann::ordered_json finish_chunk(const ApiRequest& req, const ResponseContext& ctx, const std::string& finish_reason);
nlohmann::ordered_json usage_chunk(const ApiRequest& req, const ResponseContext& ctx, const GenerationResult& result);
nlohmann::ordered_json usage_json(const GenerationResult& result);

// The writer of a Chat Completions or Completions answer (`req` must outlive it).
std::unique_ptr<AnswerWriter> openai_answer_writer(const ApiRequest& req, ResponseContext ctx);

// "stop" / "length" as OpenAI names them ("tool_calls" when calls were parsed).
std::string openai_finish_reason(const GenerationResult& result, bool has_tool_calls);

}  // namespace mlxcpp
