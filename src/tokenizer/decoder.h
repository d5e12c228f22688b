// tokenizer.json decoders (ids → text after id → token): ByteLevel, Metaspace, Replace,
// ByteFallback, Fuse, Strip, Sequence. Each transforms the list of token strings, as in
// HF tokenizers' decode_chain; the result is concatenated.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace mlxcpp {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void apply(std::vector<std::string>& tokens) const = 0;
  // The bytes the tokens add in the middle of a text: no UTF-8 repair of partial
  // characters, no stripping of a text's first space. What constrained decoding matches.
  virtual void apply_raw(std::vector<std::string>& tokens) const { apply(tokens); }
};

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j, const std::string& where);

}  // namespace mlxcpp
