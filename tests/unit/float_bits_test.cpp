// Float encodings against their definitions: exhaustive where the domain is small.
#include "util/float_bits.h"

#include <gtest/gtest.h>

#include <cmath>

#include "quant/fp_formats.h"

namespace mlxcpp {
namespace {

TEST(FloatBits, F16RoundTripsEveryFiniteValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(uint16_t(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_f16(f), uint16_t(h)) << std::hex << h;
  }
}

TEST(FloatBits, F16KnownValues) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even (down)
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie to even (up)
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // half the smallest subnormal: tie to 0
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -26)), 0x0001);
}

TEST(FloatBits, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = bf16_to_f32(uint16_t(h));
    if (!std::isnan(f)) EXPECT_EQ(f32_to_bf16(f), h);
  }
}

TEST(FloatBits, Fp8E4M3DecodeAndEncodeAgree) {
  EXPECT_EQ(fp8_e4m3_to_f32(0x7e), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(fp8_e4m3_to_f32(0x38), 1.0f);
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0x7f)));
  for (int c = 0; c < 256; ++c) {
    const float f = fp8_e4m3_to_f32(uint8_t(c));
    if (std::isnan(f) || c == 0x80) continue;  // -0 encodes back to 0x80 only with sign
    EXPECT_EQ(f32_to_fp8_e4m3(f), c) << c;
  }
  EXPECT_EQ(f32_to_fp8_e4m3(1000.0f), 0x7e);  // saturates
  EXPECT_EQ(f32_to_fp8_e4m3(1.0625f), 0x38);  // tie between 1 and 1.125 → even mantissa
}

TEST(FloatBits, Fp8E5M2IsTheTopByteOfF16) {
  EXPECT_EQ(fp8_e5m2_to_f32(0x3c), 1.0f);
  EXPECT_TRUE(std::isinf(fp8_e5m2_to_f32(0x7c)));
}

TEST(FloatBits, Fp4E2M1RoundsToNearestWithTiesTowardZero) {
  const float values[] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int c = 0; c < 8; ++c) {
    EXPECT_EQ(fp4_e2m1_to_f32(uint8_t(c)), values[c]);
    EXPECT_EQ(f32_to_fp4_e2m1(values[c]), c);
    EXPECT_EQ(f32_to_fp4_e2m1(-values[c]) & 7, c);
  }
  EXPECT_EQ(f32_to_fp4_e2m1(0.25f), 0);  // ties go toward zero, as MLX does
  EXPECT_EQ(f32_to_fp4_e2m1(0.75f), 1);
  EXPECT_EQ(f32_to_fp4_e2m1(0.76f), 2);
  EXPECT_EQ(f32_to_fp4_e2m1(2.5f), 4);
  EXPECT_EQ(f32_to_fp4_e2m1(3.5f), 5);
  EXPECT_EQ(f32_to_fp4_e2m1(5.0f), 6);
  EXPECT_EQ(f32_to_fp4_e2m1(-0.1f), 0);  // no negative zero
  EXPECT_EQ(f32_to_fp4_e2m1(100.0f), 7);
}

}  // namespace
}  // namespace mlxcpp
