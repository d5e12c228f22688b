// Plain float32 reference kernels for the transformer's non-matmul operations. They are
// the oracle that faster kernels are tested against.
#pragma once

#include <cstdint>

namespace mlxcpp::cpu {

// y = w' * x / sqrt(mean(x^2) + eps), w' = w (+1 for Gemma's offset norms).
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps, bool weight_offset);
void softmax(float* x, int64_t n);
void silu_mul(const float* gate, const float* up, float* out, int64_t n);       // silu(gate) * up
void gelu_mul(const float* gate, const float* up, float* out, int64_t n);       // exact erf GELU
void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n);  // tanh approximation
void softcap(float* x, int64_t n, float cap);                                    // cap * tanh(x / cap)

}  // namespace mlxcpp::cpu
