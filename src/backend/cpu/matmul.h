// Products of activations with weight matrices on the CPU: the reference (exactly
// dequantized rows, f32) and the fast kernels (int8 activations with VNNI/AVX2, bf16 dots,
// widened floats), chosen per matrix by what the machine and the format allow.
#pragma once

#include <cstdint>
#include <span>

#include "backend/weight_matrix.h"

namespace mlxcpp {

class ThreadPool;

// One product of a batch that shares its input: y[n, w.rows] = X · wᵀ.
struct Product {
  const WeightMatrix* w;
  float* y;
};

namespace cpu {

// Y[n, rows] = X[n, cols] · Wᵀ (+ bias); rows are split across the pool. Every row of X
// gets the same result whatever the other rows are (n is not a parameter of a row's sum).
void matmul(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool, Precision precision);

// Several products of the same input (q/k/v, gate/up). With the int8 kernels the input is
// quantized once and the rows of all the matrices share one parallel loop (fewer, longer
// loops: decode spends less time starting and joining threads). Results are those of
// separate matmul calls.
void matmul_shared_input(std::span<const Product> products, const float* x, int64_t n, ThreadPool& pool,
                         Precision precision);
// Several products each of its own input (x[m]: n rows for products[m]; a mixture's down
// products), in one parallel loop where the int8 kernels take them all. Results are those
// of separate matmul calls.
void matmul_each_input(std::span<const Product> products, std::span<const float* const> x, int64_t n, ThreadPool& pool,
                       Precision precision);

}  // namespace cpu
}  // namespace mlxcpp
