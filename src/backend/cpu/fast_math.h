// Vectorised versions of the reference operations whose cost is the exponential (softmax,
// SiLU, tanh-approximated GELU), for the fast path: exp from a degree-7 polynomial after range reduction (error
// ~2 ulp, against glibc's < 1 ulp in the reference versions of ops.h, which tests compare
// these with), sums in float lanes. Compiled with MLXCPP_SIMD_CLONES like the other float
// kernels.
#pragma once

#include <cmath>
#include <cstdint>

namespace mlxcpp::cpu {

void softmax_fast(float* x, int64_t n, float sink = -INFINITY);  // sink: as cpu::softmax
void silu_mul_fast(const float* gate, const float* up, float* out, int64_t n);  // silu(gate) * up
// gelu_tanh(gate) * up (Gemma's), as gate · sigmoid(2u) — the same as 0.5·gate·(1 + tanh u)
// without its cancellation where tanh u nears -1.
void gelu_tanh_mul_fast(const float* gate, const float* up, float* out, int64_t n);

}  // namespace mlxcpp::cpu
