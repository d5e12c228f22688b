// GPT-2's reversible byte ↔ printable-character map used by ByteLevel components:
// printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onward in order.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mlxcpp::byte_level {

// The UTF-8 text of the character standing for byte b.
const std::string& char_for_byte(uint8_t b);

// Maps text through the byte → char table.
std::string encode(std::string_view bytes);

// The byte a code point stands for, or -1 when it is not in the table.
int byte_for_char(uint32_t cp);

}  // namespace mlxcpp::byte_level
