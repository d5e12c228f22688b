// Whole-matrix quantization and dequantization on top of the per-row kernels, with
// scales/biases stored in the model dtype (affine) or as uint8 codes (fp modes).
// Used by convert (quantize) and by tests and the reference engine path (dequantize).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "format/dtype.h"
#include "quant/quant_spec.h"

namespace mlxcpp {

struct QuantizedLayout {
  std::vector<int64_t> weight_shape;  // U32 [..., cols*bits/32]
  std::vector<int64_t> scales_shape;  // [..., cols/group]
  DType scales_dtype;                 // model dtype (affine) or U8 (fp modes)
};

// Throws Error naming `name` when the last dimension is not divisible by the group size.
QuantizedLayout quantized_layout(const std::vector<int64_t>& shape, const QuantSpec& spec, DType float_dtype,
                                 const std::string& name);

// src is [rows, cols] float32 holding values of `weight_dtype`. packed: rows*cols*bits/8
// bytes; scales and biases rows*cols/group elements of the layout's scales dtype (the
// weight dtype for affine, U8 otherwise; biases only for affine, may be null otherwise).
void quantize_matrix(const float* src, size_t rows, size_t cols, const QuantSpec& spec, DType weight_dtype,
                     uint8_t* packed, uint8_t* scales, uint8_t* biases);

// The exact float32 inverse: scales and biases are widened to float32 first.
void dequantize_matrix(const uint8_t* packed, const uint8_t* scales, const uint8_t* biases, size_t rows,
                       size_t cols, const QuantSpec& spec, DType scales_dtype, float* out);

}  // namespace mlxcpp
