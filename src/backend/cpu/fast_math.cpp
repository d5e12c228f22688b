#include "backend/cpu/fast_math.h"

#include <cmath>
#include <cstring>

#include "backend/cpu/simd_clones.h"
#include "backend/cpu/vec16.h"

namespace mlxcpp::cpu {
namespace {

typedef int32_t v16i __attribute__((vector_size(64)));
typedef double v8d __attribute__((vector_size(64)));

// e^x for 16 lanes: x = n·ln2 + r with |r| <= ln2/2, e^r by its Taylor series to r^7 (the
// next term is below 6e-9 relative), and 2^n built in the exponent bits. Below -87.3 the
// result is 0 (e^x would be subnormal; -inf gives 0 too); above 88 it saturates at e^88.
// (In place through a pointer: vector values do not cross function boundaries, vec16.h.)
__attribute__((always_inline)) inline void exp16(v16f* v) {
  v16f x = *v;
  const v16i underflow = x < -87.3f;
  x = x < -87.3f ? v16f{} - 87.3f : x;
  x = x > 88.0f ? v16f{} + 88.0f : x;
  const v16i n = __builtin_convertvector(x * 1.44269504f + (x < 0 ? v16f{} - 0.5f : v16f{} + 0.5f), v16i);
  const v16f nf = __builtin_convertvector(n, v16f);
  const v16f r = (x - nf * 0.693359375f) - nf * -2.12194440e-4f;  // ln 2 in two parts (Cody and Waite)
  v16f p = v16f{} + 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const v16i bits = (n + 127) << 23;
  v16f scale;
  std::memcpy(&scale, &bits, 64);
  *v = underflow ? v16f{} : p * scale;
}

}  // namespace

MLXCPP_SIMD_CLONES
void softmax_fast(float* x, int64_t n, float sink) {
  // The largest, 16 lanes at a time and then across them: the same value in any order (a
  // tie of +0 and -0 may pick either, and x - (+0) and x - (-0) are equal for every x
  // that is not zero, whose exponential is 1 either way).
  v16f lanes = v16f{} + sink;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    v16f v;
    std::memcpy(&v, x + i, 64);
    lanes = v > lanes ? v : lanes;
  }
  float m = sink;
  for (int k = 0; k < 16; ++k) m = lanes[k] > m ? lanes[k] : m;
  for (int64_t k = i; k < n; ++k) m = x[k] > m ? x[k] : m;
  // The normaliser in double, as the reference: a float sum moved 1/sum by an ulp, which
  // was enough to change a near-tied greedy token of the bundled model.
  v8d sum8 = {};
  double sum = 0.0;
  i = 0;
  for (; i + 16 <= n; i += 16) {
    v16f v;
    std::memcpy(&v, x + i, 64);
    v -= m;
    exp16(&v);
    std::memcpy(x + i, &v, 64);
    sum8 += __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7), v8d) +
            __builtin_convertvector(__builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15), v8d);
  }
  if (i < n) {  // the tail through the same exponential, its terms summed in order
    const int64_t tail = n - i;
    v16f v = {};
    std::memcpy(&v, x + i, size_t(tail) * 4);
    v -= m;
    exp16(&v);
    std::memcpy(x + i, &v, size_t(tail) * 4);
    for (int64_t k = 0; k < tail; ++k) sum += v[k];
  }
  for (int k = 0; k < 8; ++k) sum += sum8[k];
  if (sink > -INFINITY) {  // its share, through the same exponential
    v16f v = {};
    v[0] = sink - m;
    exp16(&v);
    sum += v[0];
  }
  const float inv = float(1.0 / sum);
  for (int64_t k = 0; k < n; ++k) x[k] *= inv;
}

// out = gate · sigmoid(a(gate)) · up, 16 lanes at a time: a(g) = g for SiLU, 2u for GELU
// (`arg` turns a vector of gates into a(g) in place).
template <typename Arg>
__attribute__((always_inline)) inline void gated_sigmoid(const float* gate, const float* up, float* out, int64_t n,
                                                         Arg arg) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    v16f g, u;
    std::memcpy(&g, gate + i, 64);
    std::memcpy(&u, up + i, 64);
    v16f e = g;
    arg(&e);
    e = -e;
    exp16(&e);
    const v16f y = g / (1.0f + e) * u;
    std::memcpy(out + i, &y, 64);
  }
  for (; i < n; ++i) {  // the tail through the same exponential, one lane used
    v16f g = {};
    g[0] = gate[i];
    arg(&g);
    g = -g;
    exp16(&g);
    out[i] = gate[i] / (1.0f + g[0]) * up[i];
  }
}

MLXCPP_SIMD_CLONES
void silu_mul_fast(const float* gate, const float* up, float* out, int64_t n) {
  gated_sigmoid(gate, up, out, n, [](v16f*) {});
}

MLXCPP_SIMD_CLONES
void gelu_tanh_mul_fast(const float* gate, const float* up, float* out, int64_t n) {
  const float k = 2.0f * 0.7978845608f;  // 2·sqrt(2/π)
  gated_sigmoid(gate, up, out, n, [k](v16f* g) { *g = k * (*g + 0.044715f * *g * *g * *g); });
}

}  // namespace mlxcpp::cpu
