#include "backend/cpu/rope.h"

#include <cmath>

namespace mlxcpp::cpu {

void rope_rotate(float* x, int64_t heads, int64_t head_dim, int64_t pos, const RopeSpec& rope, const float* inv_freq) {
  constexpr int64_t kMaxHalf = 512;
  const int64_t half = rope.dims / 2;
  const double p = double(pos) * rope.position_scale;
  float cs[kMaxHalf], sn[kMaxHalf];
  for (int64_t i = 0; i < half; ++i) {
    const float angle = float(p) * inv_freq[i];
    cs[i] = std::cos(angle) * rope.mscale;
    sn[i] = std::sin(angle) * rope.mscale;
  }
  for (int64_t h = 0; h < heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const int64_t a = rope.traditional ? 2 * i : i, b = rope.traditional ? 2 * i + 1 : i + half;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * cs[i] - x1 * sn[i];
      v[b] = x1 * cs[i] + x0 * sn[i];
    }
  }
}

}  // namespace mlxcpp::cpu
