// The `pattern` of tokenizer.json Split / Replace components: {"String": s} (a literal)
// or {"Regex": r}. Both answer the same question: where are the matches?
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/regex.h"

namespace mlxcpp {

class Pattern {
 public:
  Pattern(const nlohmann::json& j, const std::string& where);
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

 private:
  std::string literal_;
  std::shared_ptr<Regex> regex_;
};

}  // namespace mlxcpp
