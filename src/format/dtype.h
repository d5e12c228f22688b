// The element types a safetensors file may declare.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "util/float_bits.h"

namespace mlxcpp {

enum class DType {
  F64, F32, F16, BF16, I64, I32, I16, I8, U8, U16, U32, U64, BOOL, F8_E4M3, F8_E5M2,
};

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // the safetensors spelling, e.g. "BF16"
std::optional<DType> parse_dtype(std::string_view name);
bool dtype_is_float(DType t);

// Converts `count` elements of a float type (F64, F32, F16, BF16, F8_*) to float32.
// Throws Error for non-float types.
void convert_to_f32(DType t, const void* src, float* dst, size_t count);

// Converts float32 to F32, F16 or BF16 (round to nearest even).
void convert_from_f32(DType t, const float* src, void* dst, size_t count);

// v rounded to the nearest value of F16 or BF16 (unchanged for F32): MLX computes in
// the weight dtype, so quantizers round intermediates the same way.
inline float round_to_dtype(DType t, float v) {
  switch (t) {
    case DType::BF16: return bf16_to_f32(f32_to_bf16(v));
    case DType::F16: return f16_to_f32(f32_to_f16(v));
    default: return v;
  }
}

// Element i of a float array of type t, widened to float32 (for per-group scales read
// one at a time in kernels; bytes may be unaligned).
inline float read_f32(DType t, const uint8_t* base, size_t i) {
  uint16_t h;
  switch (t) {
    case DType::BF16: std::memcpy(&h, base + 2 * i, 2); return bf16_to_f32(h);
    case DType::F16: std::memcpy(&h, base + 2 * i, 2); return f16_to_f32(h);
    case DType::F32: {
      float f;
      std::memcpy(&f, base + 4 * i, 4);
      return f;
    }
    default: {
      float f;
      convert_to_f32(t, base + dtype_size(t) * i, &f, 1);
      return f;
    }
  }
}

}  // namespace mlxcpp
