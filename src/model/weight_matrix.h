// A 2-D weight as stored in the model file — float (F32/F16/BF16) or MLX-quantized
// (packed U32 + scales [+ biases]) — used in place from the mmapped file.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backend/decoder_plan.h"
#include "format/dtype.h"
#include "format/model_config.h"
#include "format/weight_set.h"
#include "quant/quant_spec.h"

namespace mlxcpp {

class ThreadPool;

// f32: exact dequantization (w = scale*q + bias in f32), the reference path.
// fast: the SIMD path of backend/cpu/fast_matmul (same maths, other summation order).
enum class Precision { F32, Fast };

struct WeightMatrix {
  std::string name;  // module path, for errors
  int64_t rows = 0, cols = 0;
  std::optional<QuantSpec> quant;
  DType dtype = DType::F32;  // float weights: their dtype; quantized: the scales' dtype
  const uint8_t* data = nullptr;
  const uint8_t* scales = nullptr;
  const uint8_t* biases = nullptr;
  std::vector<float> bias;  // the Linear's additive bias, if it has one

  // Exact float32 row: w = scale * q + bias computed in f32 from the stored scale/bias.
  void dequantize_row(int64_t r, float* out) const;

  // Y[n, rows] = X[n, cols] · Wᵀ (+ bias); rows are split across the pool.
  void matmul(const float* x, int64_t n, float* y, ThreadPool& pool, Precision precision = Precision::F32) const;

  uint64_t bytes() const;
};

// One product of a batch that shares its input: y[n, w.rows] = X · wᵀ.
struct Product {
  const WeightMatrix* w;
  float* y;
};

// Several products of the same input (q/k/v, gate/up). With the int8 kernels the input is
// quantized once and the rows of all the matrices share one parallel loop (fewer, longer
// loops: decode spends less time starting and joining threads). Results are those of
// separate matmul calls.
void matmul_shared_input(std::span<const Product> products, const float* x, int64_t n, ThreadPool& pool,
                         Precision precision);

// The weight as a device backend sees it (backend/decoder_plan.h).
MatrixPlan to_matrix_plan(const WeightMatrix& w);

// Binds `module`.weight (and .scales/.biases when quantized, .bias if `with_bias`),
// checking shapes against the expected [rows, cols]. Errors name the tensor.
WeightMatrix bind_weight_matrix(const WeightSet& ws, const ModelConfig& cfg, const std::string& module, int64_t rows,
                                int64_t cols, bool with_bias = false);

// A 1-D float vector (norm weights, biases) widened to f32.
std::vector<float> load_vector(const WeightSet& ws, const std::string& name, int64_t size);

}  // namespace mlxcpp
