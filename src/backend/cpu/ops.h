// Plain float32 reference kernels for the transformer's non-matmul operations. They are
// the oracle that faster kernels are tested against.
#pragma once

#include <cmath>
#include <cstdint>

namespace mlxcpp::cpu {

// y = w' * x / sqrt(mean(x^2) + eps), w' = w (+1 for Gemma's offset norms).
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps, bool weight_offset);
// `sink`: a logit beside x that takes its share of the weight and is then dropped (gpt-oss's
// attention sinks); -inf: none.
void softmax(float* x, int64_t n, float sink = -INFINITY);
void silu_mul(const float* gate, const float* up, float* out, int64_t n);       // silu(gate) * up
void gelu_mul(const float* gate, const float* up, float* out, int64_t n);       // exact erf GELU
void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n);  // tanh approximation
void softcap(float* x, int64_t n, float cap);
// gpt-oss: g = min(gate, limit), u = clamp(up, -limit, limit); g · sigmoid(1.702 g) · (u + 1).
void clamped_swiglu_mul(const float* gate, const float* up, float* out, int64_t n, float limit);                                    // cap * tanh(x / cap)

}  // namespace mlxcpp::cpu
