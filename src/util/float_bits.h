// Scalar conversions between float32 and the 16- and 8-bit float encodings found in
// MLX and safetensors files. Bit-exact, portable, no lookup tables (no global state).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace mlxcpp {

inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

// Round to nearest even, as MLX, PyTorch and NumPy do; NaN stays a (quiet) NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    if (mant == 0) return std::bit_cast<float>(sign);
    // Subnormal: value = mant * 2^-24.
    float v = float(mant) * 0x1p-24f;
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

// Round to nearest even with correct subnormal and overflow handling.
inline uint16_t f32_to_f16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (a < 0x38800000u) {                                   // below 2^-14: subnormal or zero
    // Scale into the subnormal grid (units of 2^-24) with float rounding (nearest even).
    float v = std::bit_cast<float>(a) * 0x1p24f;
    return uint16_t(sign | uint16_t(std::nearbyint(v)));
  }
  uint32_t r = a + 0xfffu + ((a >> 13) & 1u);
  return uint16_t(sign | uint16_t(((r >> 13) - (112u << 10)) & 0xffffu));
}

// OCP FP8 E4M3 "fn": bias 7, no infinities, 0x7f/0xff are NaN, max 448.
inline float fp8_e4m3_to_f32(uint8_t v) {
  const bool neg = v & 0x80;
  const int exp = (v >> 3) & 0xf;
  const int mant = v & 0x7;
  float r;
  if (exp == 0xf && mant == 0x7) return NAN;
  if (exp == 0) r = std::ldexp(float(mant), -9);  // mant/8 * 2^-6
  else r = std::ldexp(1.0f + float(mant) / 8.0f, exp - 7);
  return neg ? -r : r;
}

// OCP FP8 E5M2: bias 15, IEEE-like (has inf and NaN).
inline float fp8_e5m2_to_f32(uint8_t v) { return f16_to_f32(uint16_t(v) << 8); }

}  // namespace mlxcpp
