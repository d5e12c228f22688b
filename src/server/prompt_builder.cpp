#include "server/prompt_builder.h"

#include <cctype>

namespace mlxcpp {

std::vector<int32_t> chat_prompt_tokens(const ModelHost& host, const nlohmann::ordered_json& messages,
                                        const nlohmann::ordered_json& tools, const nlohmann::ordered_json& kwargs) {
  const Tokenizer& tok = host.tokenizer();
  if (const ChatTemplate* t = host.chat_template()) {
    nlohmann::ordered_json extra = nlohmann::ordered_json::object();
    if (tok.token_to_id("<think>") && tok.token_to_id("</think>")) extra["enable_thinking"] = true;
    for (const auto& [k, v] : kwargs.items()) extra[k] = v;
    return tok.encode(t->render(messages, tools, true, extra), false);
  }
  std::string text;
  for (const auto& m : messages) {
    std::string role = m.value("role", "user");
    for (auto& c : role) c = char(std::toupper(static_cast<unsigned char>(c)));
    text += role + ": " + m.value("content", "") + "\n";
  }
  text += "ASSISTANT:";
  return tok.encode(text, true);
}

}  // namespace mlxcpp
