// A model's chat template bound to its tokenizer's special tokens, rendered the way
// transformers' apply_chat_template does (messages, tools, add_generation_prompt, the
// special tokens, and any extra variables such as enable_thinking).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "template/interpreter.h"

namespace mlxcpp {

class Tokenizer;

class ChatTemplate {
 public:
  // `special_tokens` maps names (bos_token, eos_token, ...) to their text.
  // `name` says whose template it is in errors (the model directory).
  ChatTemplate(const std::string& source, const nlohmann::json& special_tokens, std::string name = "chat template");
  // The tokenizer's default template; throws Error when the model has none.
  static ChatTemplate for_tokenizer(const Tokenizer& tokenizer, const std::string& model_dir);

  // Ordered JSON: templates print dicts (tojson) in the order the caller gave.
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                     bool add_generation_prompt, const nlohmann::ordered_json& extra = nullptr) const;

 private:
  std::shared_ptr<jinja::Template> template_;
  std::string name_;
  jinja::Dict specials_;
};

// Reads the special-token strings from a tokenizer_config.json (missing file: none).
nlohmann::json special_tokens_from_config(const std::string& model_dir);

}  // namespace mlxcpp
