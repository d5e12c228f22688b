#include "format/dtype.h"

#include <array>
#include <cstring>
#include <utility>

#include "util/error.h"
#include "util/float_bits.h"

namespace mlxcpp {
namespace {

struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
  bool is_float;
};

constexpr std::array<DTypeInfo, 15> kDTypes = {{
    {DType::F64, "F64", 8, true},        {DType::F32, "F32", 4, true},
    {DType::F16, "F16", 2, true},        {DType::BF16, "BF16", 2, true},
    {DType::I64, "I64", 8, false},       {DType::I32, "I32", 4, false},
    {DType::I16, "I16", 2, false},       {DType::I8, "I8", 1, false},
    {DType::U8, "U8", 1, false},         {DType::U16, "U16", 2, false},
    {DType::U32, "U32", 4, false},       {DType::U64, "U64", 8, false},
    {DType::BOOL, "BOOL", 1, false},     {DType::F8_E4M3, "F8_E4M3", 1, true},
    {DType::F8_E5M2, "F8_E5M2", 1, true},
}};

const DTypeInfo& info(DType t) { return kDTypes[static_cast<size_t>(t)]; }

}  // namespace

size_t dtype_size(DType t) { return info(t).size; }
std::string_view dtype_name(DType t) { return info(t).name; }
bool dtype_is_float(DType t) { return info(t).is_float; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& d : kDTypes)
    if (d.name == name) return d.type;
  return std::nullopt;
}

void convert_to_f32(DType t, const void* src, float* dst, size_t count) {
  const auto* b = static_cast<const uint8_t*>(src);
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, count * 4);
      return;
    case DType::F64:
      for (size_t i = 0; i < count; ++i) {
        double v;
        std::memcpy(&v, b + 8 * i, 8);
        dst[i] = float(v);
      }
      return;
    case DType::F16:
    case DType::BF16: {
      for (size_t i = 0; i < count; ++i) {
        uint16_t h;
        std::memcpy(&h, b + 2 * i, 2);
        dst[i] = t == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
      return;
    }
    case DType::F8_E4M3:
      for (size_t i = 0; i < count; ++i) dst[i] = fp8_e4m3_to_f32(b[i]);
      return;
    case DType::F8_E5M2:
      for (size_t i = 0; i < count; ++i) dst[i] = fp8_e5m2_to_f32(b[i]);
      return;
    default:
      fail("cannot convert dtype {} to float32", dtype_name(t));
  }
}

void convert_from_f32(DType t, const float* src, void* dst, size_t count) {
  auto* b = static_cast<uint8_t*>(dst);
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, count * 4);
      return;
    case DType::F16:
    case DType::BF16:
      for (size_t i = 0; i < count; ++i) {
        const uint16_t h = t == DType::F16 ? f32_to_f16(src[i]) : f32_to_bf16(src[i]);
        std::memcpy(b + 2 * i, &h, 2);
      }
      return;
    default:
      fail("cannot convert float32 to dtype {}", dtype_name(t));
  }
}

}  // namespace mlxcpp
