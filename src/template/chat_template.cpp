#include "template/chat_template.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "template/template_error.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {

nlohmann::json special_tokens_from_config(const std::string& model_dir) {
  nlohmann::json out = nlohmann::json::object();
  const auto path = std::filesystem::path(model_dir) / "tokenizer_config.json";
  if (!std::filesystem::exists(path)) return out;
  const nlohmann::json cfg = read_json_file(path);
  // transformers passes its special_tokens_map: the named special tokens that are set.
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
    if (!cfg.contains(key)) continue;
    const auto& v = cfg[key];
    if (v.is_string()) out[key] = v;
    else if (v.is_object() && v.contains("content") && v["content"].is_string()) out[key] = v["content"];
  }
  return out;
}

ChatTemplate::ChatTemplate(const std::string& source, const nlohmann::json& special_tokens, std::string name)
    : template_(std::make_shared<jinja::Template>(source)), name_(std::move(name)) {
  for (const auto& [k, v] : special_tokens.items()) specials_.set(k, jinja::from_json(v));
}

ChatTemplate ChatTemplate::for_tokenizer(const Tokenizer& tok, const std::string& model_dir) {
  const std::string* src = tok.chat_template();
  if (!src) fail("{}: the model has no chat template (tokenizer_config.json chat_template or chat_template.jinja)", model_dir);
  try {
    return ChatTemplate(*src, special_tokens_from_config(model_dir), model_dir + " chat template");
  } catch (const Error& e) {
    fail("{}: chat template: {}", model_dir, e.what());
  }
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                 bool add_generation_prompt, const nlohmann::ordered_json& extra) const {
  if (!messages.is_array()) fail("messages must be a list of {{\"role\", \"content\"}} objects");
  jinja::Dict g = specials_;
  g.set("messages", jinja::from_json(messages));
  g.set("tools", tools.is_null() ? jinja::Value(jinja::None{}) : jinja::from_json(tools));
  g.set("documents", jinja::None{});
  g.set("add_generation_prompt", add_generation_prompt);
  if (extra.is_object())
    for (const auto& [k, v] : extra.items()) g.set(k, jinja::from_json(v));
  try {
    return template_->render(g);
  } catch (const jinja::TemplateError& e) {
    fail("{}: {}", name_, e.what());
  }
}

}  // namespace mlxcpp
