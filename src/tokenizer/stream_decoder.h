// Incremental detokenization for streaming: feed token ids one at a time and receive
// text pieces whose concatenation is exactly Tokenizer::decode of all ids. A piece never
// ends inside a UTF-8 character: text is held back while the decode ends in U+FFFD from
// an incomplete byte sequence (byte-level BPE) and while a run of byte-fallback tokens is
// open (HF decodes such a run as a unit, all U+FFFD if invalid), and SentencePiece
// leading-space rules apply once, at the start of the whole text, as in a full decode.
//
// Each step re-decodes the tokens since the start (linear in the length so far): exact
// for every decoder without per-decoder special cases. Cheap next to a forward pass.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mlxcpp {

class StreamDecoder {
 public:
  StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens);

  std::string add(int32_t id);  // the newly certain text (possibly empty)
  std::string finish();         // whatever was held back
  const std::string& text() const { return text_; }  // full decode so far
  size_t emitted() const { return emitted_; }

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  std::vector<int32_t> ids_;
  std::string text_;
  size_t emitted_ = 0;
};

}  // namespace mlxcpp
