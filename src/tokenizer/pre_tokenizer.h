// tokenizer.json pre-tokenizers: Split, ByteLevel, Metaspace, Digits, Punctuation,
// Whitespace, WhitespaceSplit, Sequence. They turn the normalized text into pieces that
// the model encodes independently.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace mlxcpp {

struct Piece {
  std::string text;
  bool at_start = false;  // begins at offset 0 of the input (Metaspace prepend_scheme "first")
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void apply(std::vector<Piece>& pieces) const = 0;
};

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& where);

}  // namespace mlxcpp
