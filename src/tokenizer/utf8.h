// Minimal UTF-8 helpers for the tokenizer (decoding is lenient: an invalid byte is
// returned as a one-byte "character" so no input is ever lost or read out of bounds).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mlxcpp::utf8 {

// Length of the UTF-8 sequence starting at s[i] (1 for invalid or truncated sequences).
inline size_t char_len(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 1;
  return n;
}

inline uint32_t decode_at(std::string_view s, size_t i, size_t n) {
  const auto b = [&](size_t k) { return uint32_t(static_cast<unsigned char>(s[i + k])); };
  switch (n) {
    case 2: return ((b(0) & 0x1f) << 6) | (b(1) & 0x3f);
    case 3: return ((b(0) & 0x0f) << 12) | ((b(1) & 0x3f) << 6) | (b(2) & 0x3f);
    case 4: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3f) << 12) | ((b(2) & 0x3f) << 6) | (b(3) & 0x3f);
    default: return b(0);
  }
}

inline void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xc0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += char(0xe0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  } else {
    out += char(0xf0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3f));
    out += char(0x80 | ((cp >> 6) & 0x3f));
    out += char(0x80 | (cp & 0x3f));
  }
}

// Unicode White_Space as HF tokenizers uses it (char::is_whitespace): tab..CR, U+0085 and
// the Zs, Zl, Zp categories.
bool is_whitespace(uint32_t cp);

// Replaces every invalid sequence with U+FFFD, like Rust's String::from_utf8_lossy.
std::string make_valid(std::string_view bytes);
bool is_valid(std::string_view bytes);

}  // namespace mlxcpp::utf8
