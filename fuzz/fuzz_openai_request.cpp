// Fuzzes what the HTTP server does with untrusted request bodies: the parsers of every API
// it speaks (Chat Completions, Completions, Responses, Anthropic Messages and
// count_tokens: validation must throw ApiError, never crash), their answers written whole
// and streamed, and the tool-call parser on arbitrary model text in every format.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/anthropic_protocol.h"
#include "server/openai_protocol.h"
#include "server/responses_protocol.h"
#include "server/tool_calls.h"

namespace {

void write_all(mlxcpp::AnswerWriter& w, const mlxcpp::GenerationResult& g, const std::vector<mlxcpp::ToolCall>* calls) {
  (void)w.whole(g, calls);
  (void)w.stream_open();
  (void)w.stream_text(g.text);
  (void)w.stream_close(g, calls);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const mlxcpp::ApiLimits limits;
  static auto store = std::make_shared<mlxcpp::ResponseStore>(8, 1 << 16);
  mlxcpp::GenerationResult g;
  g.text = body;
  const auto calls = mlxcpp::parse_tool_calls(body, mlxcpp::ToolCallFormat::Qwen);
  const mlxcpp::ResponseContext ctx{"id", 0, "m", nullptr, 1};
  for (int kind = 0; kind < 5; ++kind) {
    try {
      mlxcpp::ApiRequest r;
      std::unique_ptr<mlxcpp::AnswerWriter> w;
      switch (kind) {
        case 0: r = mlxcpp::parse_chat_request(body, limits); break;
        case 1: r = mlxcpp::parse_completion_request(body, limits); break;
        case 2: {
          auto rr = mlxcpp::parse_responses_request(body, limits, *store);
          r = rr.api;
          w = mlxcpp::responses_answer_writer(std::move(rr), ctx, store);
          break;
        }
        case 3: r = mlxcpp::parse_messages_request(body, limits); break;
        case 4: r = mlxcpp::parse_messages_request(body, limits, true); break;
      }
      if (r.max_tokens < 0 || r.max_tokens > limits.max_tokens_cap) __builtin_trap();
      if (!w) w = kind == 3 ? mlxcpp::messages_answer_writer(ctx) : mlxcpp::openai_answer_writer(r, ctx);
      write_all(*w, g, calls ? &*calls : nullptr);
    } catch (const mlxcpp::ApiError&) {
    }
  }
  for (auto f : {mlxcpp::ToolCallFormat::Qwen, mlxcpp::ToolCallFormat::Mistral, mlxcpp::ToolCallFormat::Llama31}) {
    (void)mlxcpp::parse_tool_calls(body, f);
    (void)mlxcpp::may_become_tool_call(body, f);
  }
  return 0;
}
