// Fuzzes what the HTTP server does with untrusted request bodies: the chat and completion
// parsers (validation must throw ApiError, never crash) and the tool-call parser on
// arbitrary model text in every format.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/openai_protocol.h"
#include "server/tool_calls.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const mlxcpp::ApiLimits limits;
  for (int kind = 0; kind < 2; ++kind) {
    try {
      const auto r = kind ? mlxcpp::parse_completion_request(body, limits) : mlxcpp::parse_chat_request(body, limits);
      if (r.max_tokens < 0 || r.max_tokens > limits.max_tokens_cap) __builtin_trap();
      mlxcpp::GenerationResult g;
      g.text = body;
      (void)mlxcpp::completion_response(r, g, {"id", 0, "m", nullptr}, nullptr).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } catch (const mlxcpp::ApiError&) {
    }
  }
  for (auto f : {mlxcpp::ToolCallFormat::Qwen, mlxcpp::ToolCallFormat::Mistral, mlxcpp::ToolCallFormat::Llama31}) {
    (void)mlxcpp::parse_tool_calls(body, f);
    (void)mlxcpp::may_become_tool_call(body, f);
  }
  return 0;
}
