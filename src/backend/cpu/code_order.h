// MLX packs 4-bit codes two per byte, low nibble first. The fast kernels widen a block of
// 32 codes as its 16 low nibbles then its 16 high nibbles, i.e. elements 0, 2, ..., 30 then
// 1, 3, ..., 31, so the activations are permuted the same way once per call: position k of
// a block holds element nibble_order_source(k).
#pragma once

#include <cstdint>

namespace mlxcpp::cpu {

inline int64_t nibble_order_source(int64_t k) { return k < 16 ? 2 * k : 2 * (k - 16) + 1; }

}  // namespace mlxcpp::cpu
