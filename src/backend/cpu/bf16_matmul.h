// bf16 weights on CPUs with AVX512_BF16: the activations are rounded to bf16 once per
// product (the precision MLX computes bf16 models in) and dotted with vdpbf16ps, twice the
// products per instruction of widening the weights to f32, with no widening at all.
// Chosen at run time; elsewhere bf16 weights take the float kernels (fast_matmul.h).
#pragma once

#include <cstdint>
#include <span>

namespace mlxcpp {

struct Product;
class ThreadPool;

namespace cpu {

// True when this CPU has the instructions and every product is bf16 weights (no
// quantization) with a multiple of 32 columns, all of the same width.
bool bf16_matmul_supported(std::span<const Product> products);
// Every product of x (n rows), in one parallel loop over all their weight rows.
void bf16_matmul(std::span<const Product> products, const float* x, int64_t n, ThreadPool& pool);

}  // namespace cpu
}  // namespace mlxcpp
