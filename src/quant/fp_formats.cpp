#include "quant/fp_formats.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "quant/bit_packing.h"
#include "util/error.h"
#include "util/float_bits.h"

namespace mlxcpp {
namespace {

constexpr float kE2M1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

int group_of(QuantMode mode) { return mode == QuantMode::NvFp4 ? 16 : 32; }
int bits_of(QuantMode mode) { return mode == QuantMode::MxFp8 ? 8 : 4; }

}  // namespace

float fp4_e2m1_to_f32(uint8_t code) {
  const float v = kE2M1[code & 7];
  return (code & 8) ? -v : v;
}

uint8_t f32_to_fp4_e2m1(float x) {
  const float a = std::abs(x);
  uint8_t m;
  // Midpoints between neighbours; MLX sends exact ties toward zero (checked against its
  // own outputs in tests/data/mlx-quant: 0.75 → 0.5, 1.75 → 1.5, 3.5 → 3).
  if (a > 5.0f) m = 7;
  else if (a > 3.5f) m = 6;
  else if (a > 2.5f) m = 5;
  else if (a > 1.75f) m = 4;
  else if (a > 1.25f) m = 3;
  else if (a > 0.75f) m = 2;
  else if (a > 0.25f) m = 1;
  else m = 0;
  // MLX keeps the sign only on non-zero codes: a small negative value becomes +0.
  return uint8_t((m != 0 && std::signbit(x) ? 8 : 0) | m);
}

uint8_t f32_to_fp8_e4m3(float x) {
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  float a = std::abs(x);
  if (std::isnan(x)) return 0x7f;
  if (a >= 448.0f) return uint8_t(sign | 0x7e);
  int e;
  std::frexp(a, &e);  // a = f * 2^e with f in [0.5, 1)
  int exp = std::max(e - 1, -6);  // unbiased exponent of the leading bit; -6 is the subnormal floor
  const float quantum = std::ldexp(1.0f, exp - 3);
  float m = std::nearbyint(a / quantum);  // 3 mantissa bits: m in [8, 16) normal, [0, 8) subnormal
  if (m >= 16.0f) {
    m = 8.0f;
    ++exp;
  }
  if (exp > 8 || (exp == 8 && m > 14.0f)) return uint8_t(sign | 0x7e);
  if (m == 0.0f) return 0;  // as for E2M1, zero is always +0
  if (m < 8.0f) return uint8_t(sign | uint8_t(m));  // subnormal (exp field 0)
  return uint8_t(sign | uint8_t((exp + 7) << 3) | uint8_t(m - 8.0f));
}

float e8m0_to_f32(uint8_t s) {
  if (s == 255) return NAN;
  return std::ldexp(1.0f, int(s) - 127);
}

void fp_quantize_row(const float* w, size_t n, QuantMode mode, uint8_t* packed, uint8_t* scales, DType compute) {
  if (mode == QuantMode::Affine) fail("fp_quantize_row: affine is not a floating-point mode");
  const int group = group_of(mode);
  const int bits = bits_of(mode);
  std::vector<uint8_t> codes(n);
  for (size_t g = 0; g < n / size_t(group); ++g) {
    const float* x = w + g * size_t(group);
    float amax = 0.0f;
    for (int i = 0; i < group; ++i) amax = std::max(amax, std::abs(x[i]));
    float scale;
    if (mode == QuantMode::NvFp4) {
      scales[g] = f32_to_fp8_e4m3(round_to_dtype(compute, amax / 6.0f));
      scale = fp8_e4m3_to_f32(scales[g]);
    } else {
      const float max_elem = mode == QuantMode::MxFp4 ? 6.0f : 448.0f;
      // MLX rounds the exponent to nearest (the OCP spec floors it), computing amax/max and
      // its log2 in the weight dtype, then rounding half to even (checked against MLX's own
      // outputs: a bf16 log2 of -12.5 gives -12, an f16 one of -11.5 gives -12).
      float e = std::nearbyint(round_to_dtype(compute, std::log2(round_to_dtype(compute, amax / max_elem))));
      e = std::clamp(std::isfinite(e) ? e : -127.0f, -127.0f, 127.0f);
      scales[g] = uint8_t(int(e) + 127);
      scale = std::ldexp(1.0f, int(e));
    }
    for (int i = 0; i < group; ++i) {
      const float v = scale == 0.0f ? 0.0f : round_to_dtype(compute, x[i] / scale);
      codes[g * size_t(group) + size_t(i)] = bits == 4 ? f32_to_fp4_e2m1(v) : f32_to_fp8_e4m3(v);
    }
  }
  pack_bits(codes.data(), n, bits, packed);
}

void fp_dequantize_row(const uint8_t* packed, const uint8_t* scales, size_t n, QuantMode mode, float* out) {
  if (mode == QuantMode::Affine) fail("fp_dequantize_row: affine is not a floating-point mode");
  const int group = group_of(mode);
  const int bits = bits_of(mode);
  for (size_t k = 0; k < n; ++k) {
    const uint8_t s = scales[k / size_t(group)];
    const float scale = mode == QuantMode::NvFp4 ? fp8_e4m3_to_f32(s) : e8m0_to_f32(s);
    const uint32_t c = unpack_bits(packed, k, bits);
    out[k] = scale * (bits == 4 ? fp4_e2m1_to_f32(uint8_t(c)) : fp8_e4m3_to_f32(uint8_t(c)));
  }
}

}  // namespace mlxcpp
