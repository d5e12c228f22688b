#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/files.h"

namespace mlxcpp::cli {

namespace {

nlohmann::ordered_json read_ordered(const std::string& path) {
  try {
    return nlohmann::ordered_json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", path, json_error_text(e));
  }
}

}  // namespace

void register_template(CLI::App& app) {
  struct Opts {
    std::string model, messages, tools, name = "default";
    bool add_generation_prompt = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("template", "Render the model's chat template for a conversation (exact bytes, no newline added)");
  cmd->add_option("-m,--model", o->model, "Model (or tokenizer-only) directory, or repo id (default: bundled)");
  cmd->add_option("--messages", o->messages, "JSON file with a list of {role, content} messages")->required();
  cmd->add_option("--tools", o->tools, "JSON file with a list of tool definitions");
  cmd->add_option("--template-name", o->name, "Which named template (default, tool_use, ...)")->capture_default_str();
  cmd->add_flag("--add-generation-prompt", o->add_generation_prompt, "End with the assistant turn's opening");
  cmd->callback([o] {
    const auto dir = locate_model_or_bundled(o->model);
    const auto tok = Tokenizer::load(dir);
    const std::string* src = tok->chat_template(o->name);
    if (!src) fail("{}: no chat template named '{}'", dir.string(), o->name);
    const ChatTemplate t(*src, special_tokens_from_config(dir.string()));
    nlohmann::ordered_json messages = read_ordered(o->messages);
    if (messages.is_object() && messages.contains("messages")) messages = messages["messages"];
    const nlohmann::ordered_json tools = o->tools.empty() ? nlohmann::ordered_json(nullptr) : read_ordered(o->tools);
    const std::string out = t.render(messages, tools, o->add_generation_prompt);
    std::fwrite(out.data(), 1, out.size(), stdout);
  });
}

}  // namespace mlxcpp::cli
