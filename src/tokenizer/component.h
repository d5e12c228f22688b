// What the four kinds of tokenizer.json components (normalizer, pre_tokenizer,
// post_processor, decoder) parse alike: the "type" field and the list of a Sequence.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/error.h"

namespace mlxcpp {

// The component's "type"; throws naming `kind` ("normalizer", ...) when there is none.
inline std::string component_type(const nlohmann::json& j, const std::string& where, const char* kind) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) fail("{}: {} has no 'type'", where, kind);
  return j["type"].get<std::string>();
}

// The parts of a Sequence component listed under `key`, each built by `make` (which
// returns null for a JSON null part).
template <typename T, typename Make>
std::vector<std::unique_ptr<T>> sequence_parts(const nlohmann::json& j, const char* key, const std::string& where,
                                               Make make) {
  std::vector<std::unique_ptr<T>> parts;
  const nlohmann::json list = j.value(key, nlohmann::json::array());
  for (const auto& p : list)
    if (auto part = make(p, where)) parts.push_back(std::move(part));
  return parts;
}

}  // namespace mlxcpp
