#include "server/tool_calls.h"

#include <nlohmann/json.hpp>

#include "grammar/json_schema.h"
#include "util/error.h"

namespace mlxcpp {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// {"name": …, "arguments"|"parameters": {…}} → a ToolCall; nullopt for anything else.
std::optional<ToolCall> call_from_json(const nlohmann::json& j, size_t index) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return std::nullopt;
  const char* key = j.contains("arguments") ? "arguments" : j.contains("parameters") ? "parameters" : nullptr;
  nlohmann::json args = key ? j[key] : nlohmann::json::object();
  if (args.is_string()) {  // some models emit the arguments already serialised
    auto parsed = nlohmann::json::parse(args.get<std::string>(), nullptr, false);
    if (parsed.is_discarded()) return std::nullopt;
    args = parsed;
  }
  if (!args.is_object()) return std::nullopt;
  return ToolCall{"call_" + std::to_string(index), j["name"].get<std::string>(), args.dump()};
}

}  // namespace

ToolCallFormat infer_tool_call_format(const std::string& src) {
  if (src.find("<tool_call>") != std::string::npos) return ToolCallFormat::Qwen;
  if (src.find("[TOOL_CALLS]") != std::string::npos) return ToolCallFormat::Mistral;
  if (src.find("<|python_tag|>") != std::string::npos || src.find("Environment: ipython") != std::string::npos ||
      (src.find("tools") != std::string::npos && src.find("<|eot_id|>") != std::string::npos))
    return ToolCallFormat::Llama31;
  return ToolCallFormat::None;
}

const char* to_string(ToolCallFormat f) {
  switch (f) {
    case ToolCallFormat::Qwen: return "qwen";
    case ToolCallFormat::Mistral: return "mistral";
    case ToolCallFormat::Llama31: return "llama3.1";
    case ToolCallFormat::None: break;
  }
  return "none";
}

std::optional<std::vector<ToolCall>> parse_tool_calls(const std::string& text, ToolCallFormat format) {
  std::vector<ToolCall> calls;
  std::string t = trim(text);
  switch (format) {
    case ToolCallFormat::None:
      return std::nullopt;
    case ToolCallFormat::Qwen: {
      size_t pos = 0;
      while (pos < t.size()) {
        if (t.compare(pos, 11, "<tool_call>") != 0) return std::nullopt;
        const size_t end = t.find("</tool_call>", pos);
        const std::string body = t.substr(pos + 11, end == std::string::npos ? std::string::npos : end - pos - 11);
        const auto call = call_from_json(nlohmann::json::parse(body, nullptr, false), calls.size());
        // A last block cut short (max_tokens) after complete calls: the complete ones.
        if (!call && end == std::string::npos && !calls.empty()) break;
        if (!call) return std::nullopt;
        calls.push_back(*call);
        if (end == std::string::npos) break;  // an unterminated last block (max_tokens or EOS)
        pos = t.find_first_not_of(" \t\r\n", end + 12);
        if (pos == std::string::npos) break;
      }
      break;
    }
    case ToolCallFormat::Mistral: {
      if (!t.starts_with("[TOOL_CALLS]")) return std::nullopt;
      const auto j = nlohmann::json::parse(trim(t.substr(12)), nullptr, false);
      if (!j.is_array() || j.empty()) return std::nullopt;
      for (const auto& item : j) {
        const auto call = call_from_json(item, calls.size());
        if (!call) return std::nullopt;
        calls.push_back(*call);
      }
      break;
    }
    case ToolCallFormat::Llama31: {
      if (t.starts_with("<|python_tag|>")) t = trim(t.substr(14));
      if (!t.starts_with("{")) return std::nullopt;
      // One JSON object, or several separated by ';'.
      size_t pos = 0;
      while (pos < t.size()) {
        size_t depth = 0, end = pos;
        bool in_string = false, escaped = false;
        for (; end < t.size(); ++end) {
          const char c = t[end];
          if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
          } else if (c == '"') {
            in_string = true;
          } else if (c == '{') {
            ++depth;
          } else if (c == '}' && --depth == 0) {
            break;
          }
        }
        if (end >= t.size()) return std::nullopt;
        const auto call = call_from_json(nlohmann::json::parse(t.substr(pos, end - pos + 1), nullptr, false), calls.size());
        if (!call) return std::nullopt;
        calls.push_back(*call);
        pos = t.find_first_not_of(" \t\r\n;", end + 1);
        if (pos == std::string::npos) break;
      }
      break;
    }
  }
  if (calls.empty()) return std::nullopt;
  return calls;
}

bool may_become_tool_call(const std::string& text, ToolCallFormat format) {
  const std::string t = trim(text);
  const auto prefix_either_way = [&](const std::string& marker) {
    return t.size() <= marker.size() ? marker.compare(0, t.size(), t) == 0 : t.starts_with(marker);
  };
  switch (format) {
    case ToolCallFormat::None: return false;
    case ToolCallFormat::Qwen: return prefix_either_way("<tool_call>");
    case ToolCallFormat::Mistral: return prefix_either_way("[TOOL_CALLS]");
    case ToolCallFormat::Llama31: return t.empty() || t.starts_with("{") || prefix_either_way("<|python_tag|>");
  }
  return false;
}

std::shared_ptr<grammar::Grammar> tool_call_grammar(ToolCallFormat format, const nlohmann::ordered_json& tools,
                                                    const std::string& only_name, bool parallel) {
  using grammar::Grammar;
  using grammar::Sequence;
  using grammar::Element;
  if (format == ToolCallFormat::None)
    fail("tool_choice: the model's chat template has no tool call format this server knows (qwen, mistral, llama3.1)");
  const char* args_key = format == ToolCallFormat::Llama31 ? "parameters" : "arguments";
  // One call: {"name": <const>, "<args>": <the tool's parameters>} for any (or the named) tool.
  nlohmann::ordered_json call = {{"anyOf", nlohmann::ordered_json::array()}};
  for (const auto& t : tools) {
    const auto& f = t["function"];
    if (!only_name.empty() && f["name"] != only_name) continue;
    nlohmann::ordered_json params = f.contains("parameters") ? f["parameters"] : nlohmann::ordered_json{{"type", "object"}};
    call["anyOf"].push_back({{"type", "object"},
                             {"properties", {{"name", {{"const", f["name"]}}}, {args_key, params}}},
                             {"required", {"name", args_key}},
                             {"additionalProperties", false}});
  }
  auto g = std::make_shared<Grammar>();
  const Element one = Grammar::ref(grammar::add_json_schema(*g, call, "tools"));
  const Element ws = g->optional("ws", g->literal("\n"));
  Sequence root;
  switch (format) {
    case ToolCallFormat::Qwen: {
      Sequence block = g->literal("<tool_call>\n");
      block.push_back(one);
      const Sequence close = g->literal("\n</tool_call>");
      block.insert(block.end(), close.begin(), close.end());
      Sequence next{ws};
      next.insert(next.end(), block.begin(), block.end());
      root = block;
      if (parallel) root.push_back(g->star("more-calls", next));
      break;
    }
    case ToolCallFormat::Mistral: {
      root = g->literal("[TOOL_CALLS][");
      const Sequence comma = g->literal(", ");
      root.push_back(g->repeat("calls", {one}, 1, parallel ? -1 : 1, comma));
      root.push_back(g->byte_range(']', ']'));
      break;
    }
    case ToolCallFormat::Llama31: {
      root = {one};
      const Sequence sep = g->literal("; ");
      Sequence next = sep;
      next.push_back(one);
      if (parallel) root.push_back(g->star("more-calls", next));
      break;
    }
    case ToolCallFormat::None: break;
  }
  g->set_root(g->add("tool-calls", {root}));
  g->check();
  return g;
}

}  // namespace mlxcpp
