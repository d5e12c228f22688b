// The Anthropic Messages API (POST /v1/messages and /v1/messages/count_tokens), as
// `@anthropic-ai/sdk` and Claude Code call it: a system prompt, messages of content blocks
// (text, tool_use, tool_result), tools with input_schema, tool_choice, stop_sequences,
// thinking on or off; the answer as a message or as its stream of events (message_start …
// message_stop). Requests become an ApiRequest of the chat kind; errors take Anthropic's
// shape ({"type": "error", "error": {"type", "message"}}).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

#include "server/answer_writer.h"
#include "server/openai_protocol.h"

namespace mlxcpp {

// `count_only`: the body of /v1/messages/count_tokens (no max_tokens, no sampling).
ApiRequest parse_messages_request(std::string_view body, const ApiLimits& limits, bool count_only = false);

std::unique_ptr<AnswerWriter> messages_answer_writer(ResponseContext ctx);

// An error in Anthropic's shape, its type named after the HTTP status.
nlohmann::json anthropic_error_json(const ApiError& error);

}  // namespace mlxcpp
