// MLX affine quantization (mode "affine"): w = scale * q + bias per group of
// `group_size` consecutive elements along a row, q in [0, 2^bits - 1].
#pragma once

#include <cstddef>
#include <cstdint>

namespace mlxcpp {

// Quantizes one row of n floats (n % group_size == 0) with MLX's algorithm
// (mlx-format.md §3.4, the CPU variant: fp32 arithmetic, round half to even).
// packed receives n*bits/8 bytes; scales and biases n/group_size floats, which the
// caller rounds to the model dtype.
void affine_quantize_row(const float* w, size_t n, int bits, int group_size, uint8_t* packed, float* scales,
                         float* biases);

// Exact float32 dequantization: w = scale * q + bias with scale and bias as given.
void affine_dequantize_row(const uint8_t* packed, const float* scales, const float* biases, size_t n, int bits,
                           int group_size, float* out);

}  // namespace mlxcpp
