// MLX's floating-point quantization modes (mlx-format.md §4): mxfp4 and mxfp8 use a
// power-of-two E8M0 scale per 32 elements, nvfp4 an FP8 E4M3 scale per 16 elements.
// Elements are FP4 E2M1 (4 bits, 8 per word) or FP8 E4M3 (8 bits, 4 per word).
#pragma once

#include <cstddef>
#include <cstdint>

#include "format/dtype.h"
#include "quant/quant_spec.h"

namespace mlxcpp {

float fp4_e2m1_to_f32(uint8_t code);
uint8_t f32_to_fp4_e2m1(float x);   // round to nearest, ties toward zero (as MLX), saturating at ±6
uint8_t f32_to_fp8_e4m3(float x);   // round to nearest even, saturating at ±448
float e8m0_to_f32(uint8_t s);       // 2^(s-127); 255 is NaN

// mode must be MxFp4, MxFp8 or NvFp4. packed gets n*bits/8 bytes, scales n/group bytes.
// `compute` is the dtype MLX computes in (the weight's: F32, F16 or BF16): the scale
// estimate amax/max and each w/scale are rounded to it before encoding, as MLX does.
void fp_quantize_row(const float* w, size_t n, QuantMode mode, uint8_t* packed, uint8_t* scales,
                     DType compute = DType::F32);
void fp_dequantize_row(const uint8_t* packed, const uint8_t* scales, size_t n, QuantMode mode, float* out);

}  // namespace mlxcpp
