// MLX packs b-bit values into uint32 words as one little-endian bit stream per row:
// element k occupies stream bits [k*b, (k+1)*b), least significant bit first
// (mlx-format.md §3.5). This one rule covers every bit width, including 3, 5 and 6
// bits whose values straddle word boundaries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mlxcpp {

// Reads element k from a packed row. `row` must have at least one readable word past
// the element's last bit, or the element must not straddle the end (true for whole rows).
inline uint32_t unpack_bits(const uint8_t* row, size_t k, int bits) {
  const size_t bit = k * size_t(bits);
  const size_t byte = bit >> 3;
  // Read at most 2 bytes beyond the first one (bits <= 8 plus a 7-bit shift fits 16 bits).
  uint32_t v = row[byte];
  if ((bit & 7) + size_t(bits) > 8) v |= uint32_t(row[byte + 1]) << 8;
  return (v >> (bit & 7)) & ((1u << bits) - 1u);
}

// Packs `count` values (each < 2^bits) into `out`, which must hold count*bits/8 bytes
// (a whole number of words for whole rows). `out` is fully overwritten.
inline void pack_bits(const uint8_t* values, size_t count, int bits, uint8_t* out) {
  const size_t nbytes = count * size_t(bits) / 8;
  std::memset(out, 0, nbytes);
  for (size_t k = 0; k < count; ++k) {
    const size_t bit = k * size_t(bits);
    const uint32_t v = uint32_t(values[k]) << (bit & 7);
    out[bit >> 3] |= uint8_t(v);
    if ((bit & 7) + size_t(bits) > 8) out[(bit >> 3) + 1] |= uint8_t(v >> 8);
  }
}

}  // namespace mlxcpp
