#include "tokenizer/stream_decoder.h"

#include <algorithm>

namespace mlxcpp {
namespace {

constexpr std::string_view kReplacement = "\xef\xbf\xbd";

// Bytes at the end of `s` that may still change: trailing U+FFFD characters (from an
// incomplete sequence that the next token may complete).
size_t unstable_tail(const std::string& s) {
  size_t n = 0;
  while (s.size() >= n + 3 && std::string_view(s).substr(s.size() - n - 3, 3) == kReplacement) n += 3;
  return n;
}

bool is_byte_token(const Tokenizer& tok, int32_t id) {  // "<0xAB>" (SentencePiece byte fallback)
  const auto t = tok.id_to_token(id);
  return t && t->size() == 6 && t->starts_with("<0x") && t->back() == '>';
}

}  // namespace

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tok_(tokenizer), skip_special_(skip_special_tokens) {}

std::string StreamDecoder::add(int32_t id) {
  ids_.push_back(id);
  text_ = tok_.decode(ids_, skip_special_);
  size_t stable = text_.size() - unstable_tail(text_);
  // A run of byte-fallback tokens is decoded as a unit (all of it becomes U+FFFD if the
  // bytes are not valid UTF-8), so a run still open may change retroactively: hold it.
  size_t run_start = ids_.size();
  while (run_start > 0 && is_byte_token(tok_, ids_[run_start - 1])) --run_start;
  if (run_start < ids_.size()) {
    const std::vector<int32_t> before(ids_.begin(), ids_.begin() + long(run_start));
    stable = std::min(stable, tok_.decode(before, skip_special_).size());
  }
  if (stable <= emitted_) return {};
  std::string piece = text_.substr(emitted_, stable - emitted_);
  emitted_ = stable;
  return piece;
}

std::string StreamDecoder::finish() {
  std::string rest = text_.size() > emitted_ ? text_.substr(emitted_) : std::string();
  emitted_ = text_.size();
  return rest;
}

}  // namespace mlxcpp
