#include "quant/affine.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "quant/bit_packing.h"

namespace mlxcpp {

void affine_quantize_row(const float* w, size_t n, int bits, int group_size, uint8_t* packed, float* scales,
                         float* biases) {
  const float n_bins = float((1 << bits) - 1);
  constexpr float kEps = 1e-7f;
  std::vector<uint8_t> q(n);
  for (size_t g = 0; g < n / size_t(group_size); ++g) {
    const float* x = w + g * size_t(group_size);
    float wmin = x[0], wmax = x[0];
    for (int i = 1; i < group_size; ++i) {
      wmin = std::min(wmin, x[i]);
      wmax = std::max(wmax, x[i]);
    }
    // Anchor the grid on the extreme of larger magnitude so that q = 0 decodes to it
    // exactly and zero lies on the grid; the scale is negative when that extreme is wmax.
    const bool side = std::abs(wmin) > std::abs(wmax);
    float scale = std::max((wmax - wmin) / n_bins, kEps);
    scale = side ? scale : -scale;
    const float edge = side ? wmin : wmax;
    const float q0 = std::rint(edge / scale);
    float bias = 0.0f;
    if (q0 != 0.0f) {
      scale = edge / q0;
      bias = edge;
    }
    for (int i = 0; i < group_size; ++i) {
      const float v = std::rint((x[i] - bias) / scale);
      q[g * size_t(group_size) + size_t(i)] = uint8_t(std::clamp(v, 0.0f, n_bins));
    }
    scales[g] = scale;
    biases[g] = bias;
  }
  pack_bits(q.data(), n, bits, packed);
}

void affine_dequantize_row(const uint8_t* packed, const float* scales, const float* biases, size_t n, int bits,
                           int group_size, float* out) {
  for (size_t k = 0; k < n; ++k) {
    const size_t g = k / size_t(group_size);
    out[k] = scales[g] * float(unpack_bits(packed, k, bits)) + biases[g];
  }
}

}  // namespace mlxcpp
