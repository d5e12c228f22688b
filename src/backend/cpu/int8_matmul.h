// Integer dot products for MLX affine 4- and 8-bit weights on x86-64: activations are
// quantized to int8 per block of 32 (scale max|x|/127), and Σ q·x is computed with
// AVX-512 VNNI (vpdpbusd) or AVX2 (vpmaddubsw / vpmaddwd); the affine bias term uses the
// exact float sums of x. Chosen at run time by CPU features; absent elsewhere.
#pragma once

#include <cstdint>

namespace mlxcpp {

struct WeightMatrix;
class ThreadPool;

namespace cpu {

// True when this CPU and weight format have an integer kernel.
bool int8_matmul_supported(const WeightMatrix& w);
void int8_matmul(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool);
const char* int8_kernel_name();  // "avx512vnni", "avx2" or "none"

}  // namespace cpu
}  // namespace mlxcpp
