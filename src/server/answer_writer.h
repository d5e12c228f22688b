// How one API shapes an answer: the whole response body, or the server-sent events of a
// stream. The HTTP server drives every API the same way (parse → generate → write) and
// asks the request's writer for the bytes: OpenAI Chat Completions and Completions
// (openai_protocol.h), OpenAI Responses (responses_protocol.h) and Anthropic Messages
// (anthropic_protocol.h).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/generator.h"
#include "server/tool_calls.h"

namespace mlxcpp {

class ApiError;

class AnswerWriter {
 public:
  virtual ~AnswerWriter() = default;
  // The events that open a stream, before any text ("" when the API has none).
  virtual std::string stream_open() = 0;
  // Text that is certain (held back while it may still become a tool call).
  virtual std::string stream_text(const std::string& text) = 0;
  // The events that end a stream: the tool calls when the text parsed as such, the finish.
  virtual std::string stream_close(const GenerationResult& result, const std::vector<ToolCall>* calls) = 0;
  // A failure after the stream began.
  virtual std::string stream_error(const ApiError& error) = 0;
  // The complete (non-streamed) response body.
  virtual std::string whole(const GenerationResult& result, const std::vector<ToolCall>* calls) = 0;
};

// An id for a response, message, item or call: `prefix` and 24 random hex digits.
std::string random_id(const char* prefix);

// Seconds since the epoch (the `created` of responses).
int64_t unix_now();

// A server-sent event: "event: NAME\n" (when named) and one data line of JSON.
std::string sse_event(const nlohmann::ordered_json& data, const std::string& name = "");

}  // namespace mlxcpp
