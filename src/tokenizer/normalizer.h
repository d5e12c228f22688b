// tokenizer.json normalizers: NFC, NFD, NFKC, NFKD (utf8proc), Lowercase, Replace,
// Prepend, Strip, Sequence. A null normalizer is the identity.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace mlxcpp {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string text) const = 0;
};

// Returns null for a JSON null. Throws Error naming the unsupported type.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& where);

}  // namespace mlxcpp
