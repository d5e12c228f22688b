// Tool calls in generated text, for the three formats the catalogue's chat templates teach
// their models (inferred from the template, as mlx-lm does):
//   Qwen / Hermes   <tool_call>{"name": …, "arguments": {…}}</tool_call>  (one block per call)
//   Mistral         [TOOL_CALLS] [{"name": …, "arguments": {…}}, …]
//   Llama 3.1       [<|python_tag|>]{"name": …, "parameters": {…}}  (calls separated by ';')
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "grammar/grammar.h"

namespace mlxcpp {

enum class ToolCallFormat { None, Qwen, Mistral, Llama31 };

ToolCallFormat infer_tool_call_format(const std::string& chat_template_source);
const char* to_string(ToolCallFormat format);

struct ToolCall {
  std::string id;         // "call_<n>"
  std::string name;
  std::string arguments;  // a JSON object, serialised (OpenAI sends arguments as a string)
};

// The calls when the whole text is tool calls in `format`; nullopt when it is ordinary text.
std::optional<std::vector<ToolCall>> parse_tool_calls(const std::string& text, ToolCallFormat format);

// While streaming: whether text so far may still turn out to be a tool call (so it must be
// held back rather than sent as content).
bool may_become_tool_call(const std::string& text_so_far, ToolCallFormat format);

// The text of one or more tool calls in `format` (exactly one unless `parallel`; only
// calls of `only_name` when given), each call's arguments valid against its tool's
// parameters schema: what tool_choice "required" or a named function constrains the
// output to. Throws Error when the format
// is None or a tool's schema is not supported (naming the tool).
std::shared_ptr<grammar::Grammar> tool_call_grammar(ToolCallFormat format, const nlohmann::ordered_json& tools,
                                                    const std::string& only_name, bool parallel = true);

}  // namespace mlxcpp
