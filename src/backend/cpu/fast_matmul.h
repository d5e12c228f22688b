// The fast CPU path for Y = X · Wᵀ on MLX weights (all formats): per group of the weight
// row, the codes are widened to float once and dotted with every input row using SIMD
// (GCC vector extensions, compiled for AVX-512 / AVX2 / baseline and chosen at run time),
// and the affine form  y += scale · Σ q·x + bias · Σ x  avoids materialising weights.
// Accumulation order differs from the f32 reference path, so results agree to float
// rounding rather than bit for bit; tests bound the difference.
#pragma once

#include <cstdint>

namespace mlxcpp {

struct WeightMatrix;
class ThreadPool;

namespace cpu {

void fast_matmul(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool);

}  // namespace cpu
}  // namespace mlxcpp
