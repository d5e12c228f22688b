#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace mlxcpp::byte_level {
namespace {

bool self_mapped(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); }

struct Tables {
  std::array<std::string, 256> chars;
  std::array<int16_t, 512> bytes{};  // code point (< 512) → byte, -1 if none
  Tables() {
    bytes.fill(-1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const uint32_t cp = self_mapped(b) ? uint32_t(b) : uint32_t(next++);
      utf8::append(chars[size_t(b)], cp);
      bytes[cp] = int16_t(b);
    }
  }
};

const Tables& tables() {
  static const Tables t;  // immutable after construction
  return t;
}

}  // namespace

const std::string& char_for_byte(uint8_t b) { return tables().chars[b]; }

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) out += tables().chars[c];
  return out;
}

int byte_for_char(uint32_t cp) { return cp < 512 ? tables().bytes[cp] : -1; }

}  // namespace mlxcpp::byte_level
