// The interface between the int8 dispatcher (int8_matmul.cpp, compiled for the baseline
// ISA) and the per-instruction-set kernels (int8_kernels.inc, compiled with -mavx2 or
// -mavx512*). Only plain pointers cross it: the kernel translation units must not
// instantiate any shared inline code (std::vector, std::fill, util helpers), because the
// linker keeps one copy of such code for the whole program and could pick the one built
// with AVX-512 for callers on a CPU without it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mlxcpp::cpu {

// How group scales and biases are stored in the model.
enum : int { kStoredF32 = 0, kStoredBF16 = 1, kStoredF16 = 2 };

struct Int8Rows {
  const uint8_t* codes;  // packed weights, row r at codes + r * row_bytes
  size_t row_bytes;
  int64_t cols, group, n;  // input features, group size, input rows
  // Activations with per-32-block scales xs [n][cols/32] and exact per-group sums
  // [n][cols/group]. One row (decode): int8 xq plus the rounding residual as a second int8
  // pass (xq2, xs2). Several rows (prefill): int16 xq16 [n][cols], one pass.
  const int8_t *xq, *xq2;
  const int16_t* xq16;
  const float *xs, *xs2, *gsum;
  // Prefill: group scales and biases widened to f32 for rows [r0, r1) of the call,
  // [r1-r0][cols/group]. Decode: read as stored, [rows][cols/group] of stored_kind.
  const float *scales, *biases;
  const void *stored_scales, *stored_biases;
  int stored_kind;
  const float* bias;  // the Linear bias [rows], or null
  float* y;           // y[i * y_stride + r]
  int64_t y_stride;
};

namespace avx2 {
void rows4(const Int8Rows& a, int64_t r0, int64_t r1);
void rows8(const Int8Rows& a, int64_t r0, int64_t r1);
}  // namespace avx2
namespace vnni {
void rows4(const Int8Rows& a, int64_t r0, int64_t r1);
void rows8(const Int8Rows& a, int64_t r0, int64_t r1);
}  // namespace vnni

}  // namespace mlxcpp::cpu
