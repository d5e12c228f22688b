// The interface between the bf16 dispatcher (bf16_matmul.cpp, baseline ISA) and the
// AVX512_BF16 kernels (bf16_kernels.cpp, compiled with -mavx512bf16): plain pointers only,
// for the reason given in int8_kernels.h.
#pragma once

#include <cstdint>

namespace mlxcpp::cpu {

struct Bf16Rows {
  const uint16_t* w;  // weights [rows][cols], bf16, any 2-byte alignment (mmapped)
  int64_t cols, n;    // cols a multiple of 32
  const uint16_t* x;  // activations [n][cols], bf16
  const float* bias;  // the Linear bias [rows], or null
  float* y;           // y[i * y_stride + r]
  int64_t y_stride;
};

namespace avx512bf16 {
// y for weight rows [r0, r1) and every input row.
void rows(const Bf16Rows& a, int64_t r0, int64_t r1);
// out = x rounded to bf16 (to nearest, ties to even); count a multiple of 32.
void round_to_bf16(const float* x, int64_t count, uint16_t* out);
}  // namespace avx512bf16

}  // namespace mlxcpp::cpu
