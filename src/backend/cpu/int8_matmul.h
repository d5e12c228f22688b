// Integer dot products for MLX affine 4- and 8-bit weights (groups of 64 or 128) on
// x86-64: activations are quantized to int8 per weight group (scale max|x|/127), and Σ q·x
// is computed with AVX-512 VNNI (vpdpbusd) or AVX2 (vpmaddubsw / vpmaddwd); the affine bias
// term uses the sums of the coded x. Chosen at run time by CPU features; absent elsewhere.
#pragma once

#include <cstdint>
#include <span>

#include "backend/weight_matrix.h"

namespace mlxcpp {

struct Product;
class ThreadPool;

namespace cpu {

// The order this CPU's fastest int8 kernels want w's codes in (the CPU backend copies the
// weights so).
CodeOrder int8_code_order(const WeightMatrix& w);
// True when this CPU has an integer kernel for the weights' format and the products can
// share one quantized input (same columns, bits and group size).
bool int8_matmul_supported(std::span<const Product> products);
// Every product of x (n rows), in one parallel loop over all their weight rows.
void int8_matmul(std::span<const Product> products, const float* x, int64_t n, ThreadPool& pool);
// Products each with its own input (x[m]: n rows of products[m]'s columns), in one parallel
// loop: when every product alone has an integer kernel.
bool int8_matmul_each_supported(std::span<const Product> products);
void int8_matmul_each(std::span<const Product> products, std::span<const float* const> x, int64_t n, ThreadPool& pool);
const char* int8_kernel_name();  // "avx512vnni, amx", "avx512vnni", "avx2" or "none"

}  // namespace cpu
}  // namespace mlxcpp
