#include "tokenizer/pattern.h"

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace mlxcpp {

Pattern::Pattern(const nlohmann::json& j, const std::string& where) {
  if (j.is_object() && j.contains("String") && j["String"].is_string()) {
    literal_ = j["String"].get<std::string>();
    if (literal_.empty()) fail("{}: empty String pattern", where);
  } else if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
    regex_ = std::make_shared<Regex>(j["Regex"].get<std::string>(), where);
  } else {
    fail("{}: 'pattern' must be {{\"String\": ...}} or {{\"Regex\": ...}}", where);
  }
}

std::vector<std::pair<size_t, size_t>> Pattern::find_all(std::string_view text) const {
  if (regex_) return regex_->find_all(text);
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t p = text.find(literal_); p != std::string_view::npos; p = text.find(literal_, p + literal_.size()))
    out.emplace_back(p, p + literal_.size());
  return out;
}

}  // namespace mlxcpp
