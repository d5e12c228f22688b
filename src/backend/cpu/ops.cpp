#include "backend/cpu/ops.h"

#include <algorithm>
#include <cmath>


namespace mlxcpp::cpu {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps, bool weight_offset) {
  double ss = 0;  // sum of squares in double: the f32 reference must not lose bits here
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * double(x[i]);
  const float inv = 1.0f / std::sqrt(float(ss / double(n)) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (weight_offset ? 1.0f + w[i] : w[i]) * (x[i] * inv);
}

void softmax(float* x, int64_t n, float sink) {
  float m = sink;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  double sum = std::exp(sink - m);  // 0 without a sink
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void clamped_swiglu_mul(const float* gate, const float* up, float* out, int64_t n, float limit) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = std::min(gate[i], limit), u = std::clamp(up[i], -limit, limit);
    out[i] = g / (1.0f + std::exp(-1.702f * g)) * (u + 1.0f);
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void gelu_mul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * gate[i] * (1.0f + std::erf(gate[i] * float(M_SQRT1_2))) * up[i];
}

void gelu_tanh_mul(const float* gate, const float* up, float* out, int64_t n) {
  const float k = std::sqrt(2.0f / float(M_PI));
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = 0.5f * g * (1.0f + std::tanh(k * (g + 0.044715f * g * g * g))) * up[i];
  }
}

void softcap(float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] / cap);
}

}  // namespace mlxcpp::cpu
