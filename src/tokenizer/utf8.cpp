#include "tokenizer/utf8.h"

#include <utf8proc.h>

namespace mlxcpp::utf8 {
namespace {

// Length of a *strictly* valid sequence at i (rejecting overlongs, surrogates, > U+10FFFF),
// or 0. Used where byte-exact agreement with Rust's UTF-8 validation matters.
size_t valid_len(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;  // overlong
    if (c == 0xed && b(1) > 0x9f) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;
    if (c == 0xf4 && b(1) > 0x8f) return 0;
    return 4;
  }
  return 0;
}

// Rust's from_utf8_lossy replaces each maximal invalid prefix ("error_len") with one
// U+FFFD: a truncated but otherwise valid prefix of a sequence counts as one error.
size_t invalid_run(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t need = (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3 : (c >= 0xf0 && c <= 0xf4) ? 4 : 1;
  if (need == 1) return 1;
  size_t k = 1;
  for (; k < need && i + k < s.size(); ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    unsigned char lo = 0x80, hi = 0xbf;
    if (k == 1) {
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    }
    if (d < lo || d > hi) break;
  }
  return k;
}

}  // namespace

bool is_whitespace(uint32_t c) {
  if ((c >= 9 && c <= 13) || c == 0x85) return true;
  const auto cat = utf8proc_category(utf8proc_int32_t(c));
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

std::string make_valid(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (const size_t n = valid_len(s, i)) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xef\xbf\xbd";
      i += invalid_run(s, i);
    }
  }
  return out;
}

bool is_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = valid_len(s, i);
    if (!n) return false;
    i += n;
  }
  return true;
}

}  // namespace mlxcpp::utf8
