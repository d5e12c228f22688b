// Sixteen floats as one GCC vector-extension value, and loading them from f32 or bf16
// storage. Kernels built with MLXCPP_SIMD_CLONES get one zmm register per vector on
// AVX-512, two ymm on AVX2, four q registers on NEON.
#pragma once

#include <cstdint>
#include <cstring>

namespace mlxcpp::cpu {

typedef float v16f __attribute__((vector_size(64)));
typedef uint16_t v16u16 __attribute__((vector_size(32)));
typedef uint32_t v16u32 __attribute__((vector_size(64)));

// Elements i .. i+15 of `base` (f32, or bf16 widened: bf16 is the top half of an f32).
// Pointers, not vector values, cross this helper: inlined into each clone of a kernel it
// takes that clone's instruction set.
__attribute__((always_inline)) inline void load16(const void* base, int64_t i, bool bf16, v16f* f) {
  const char* at = static_cast<const char*>(base);
  if (bf16) {
    v16u16 h;
    std::memcpy(&h, at + 2 * i, 32);
    const v16u32 u = __builtin_convertvector(h, v16u32) << 16;
    std::memcpy(f, &u, 64);
  } else {
    std::memcpy(f, at + 4 * i, 64);
  }
}

}  // namespace mlxcpp::cpu
