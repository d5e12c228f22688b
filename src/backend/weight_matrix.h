// A 2-D weight as stored in the model file — float (F32/F16/BF16) or MLX-quantized
// (packed U32 + scales [+ biases]) — used in place from the mapped file. A plain
// description: the model layer binds it (model/weight_binding.h), the backends run it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "format/dtype.h"
#include "quant/quant_spec.h"

namespace mlxcpp {

// f32: exact dequantization (w = scale*q + bias in f32), the reference path.
// fast: the SIMD path of backend/cpu (same maths, other summation order).
enum class Precision { F32, Fast };

struct WeightMatrix {
  std::string name;  // module path, for errors
  int64_t rows = 0, cols = 0;
  std::optional<QuantSpec> quant;
  DType dtype = DType::F32;  // float weights: their dtype; quantized: the scales' dtype
  const uint8_t* data = nullptr;
  const uint8_t* scales = nullptr;
  const uint8_t* biases = nullptr;
  const float* bias = nullptr;  // the Linear's additive bias [rows], or null

  // Exact float32 row: w = scale * q + bias computed in f32 from the stored scale/bias.
  void dequantize_row(int64_t r, float* out) const;
  uint64_t bytes() const;
};

}  // namespace mlxcpp
