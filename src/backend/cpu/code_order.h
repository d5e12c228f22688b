// MLX packs 4-bit codes two per byte, low nibble first. The fast kernels unpack a run of
// bytes as all its low nibbles, then all its high nibbles (even elements, then odd ones),
// so the activations are permuted the same way once per call: position k of a run holds
// element nibble_order_source(k) (float kernels), or element e goes to position
// run_order_position(e) (int8 kernels).
#pragma once

#include <cstdint>

namespace mlxcpp::cpu {

// The float kernels' runs of 16 bytes (blocks of 32 elements).
inline int64_t nibble_order_source(int64_t k) { return k < 16 ? 2 * k : 2 * (k - 16) + 1; }

// The int8 kernels' runs of 64 bytes (128 elements, int8_kernels.h): the position that
// element e of a row made of whole runs takes.
inline int64_t run_order_position(int64_t e) {
  const int64_t base = e / 128 * 128, k = e % 128;
  return base + (k % 2 == 0 ? k / 2 : 64 + k / 2);
}

}  // namespace mlxcpp::cpu
