#include "quant/quantize_tensor.h"

#include "quant/affine.h"
#include "quant/fp_formats.h"
#include "util/error.h"

namespace mlxcpp {

QuantizedLayout quantized_layout(const std::vector<int64_t>& shape, const QuantSpec& spec, DType float_dtype,
                                 const std::string& name) {
  if (shape.empty()) fail("tensor '{}': cannot quantize a scalar", name);
  const int64_t cols = shape.back();
  if (cols % spec.group_size != 0)
    fail("tensor '{}': last dimension {} is not divisible by the group size {}", name, cols, spec.group_size);
  QuantizedLayout l;
  l.weight_shape = shape;
  l.weight_shape.back() = cols * spec.bits / 32;
  l.scales_shape = shape;
  l.scales_shape.back() = cols / spec.group_size;
  l.scales_dtype = spec.mode == QuantMode::Affine ? float_dtype : DType::U8;
  return l;
}

void quantize_matrix(const float* src, size_t rows, size_t cols, const QuantSpec& spec, DType weight_dtype,
                     uint8_t* packed, uint8_t* scales, uint8_t* biases) {
  const size_t row_bytes = cols * size_t(spec.bits) / 8;
  const size_t groups = cols / size_t(spec.group_size);
  if (spec.mode != QuantMode::Affine) {
    for (size_t r = 0; r < rows; ++r)
      fp_quantize_row(src + r * cols, cols, spec.mode, packed + r * row_bytes, scales + r * groups, weight_dtype);
    return;
  }
  const DType scales_dtype = weight_dtype;  // affine scales and biases are stored in the weight dtype
  std::vector<float> s(groups), b(groups);
  const size_t esz = dtype_size(scales_dtype);
  for (size_t r = 0; r < rows; ++r) {
    affine_quantize_row(src + r * cols, cols, spec.bits, spec.group_size, packed + r * row_bytes, s.data(),
                        b.data());
    convert_from_f32(scales_dtype, s.data(), scales + r * groups * esz, groups);
    convert_from_f32(scales_dtype, b.data(), biases + r * groups * esz, groups);
  }
}

void dequantize_matrix(const uint8_t* packed, const uint8_t* scales, const uint8_t* biases, size_t rows,
                       size_t cols, const QuantSpec& spec, DType scales_dtype, float* out) {
  const size_t row_bytes = cols * size_t(spec.bits) / 8;
  const size_t groups = cols / size_t(spec.group_size);
  if (spec.mode != QuantMode::Affine) {
    for (size_t r = 0; r < rows; ++r)
      fp_dequantize_row(packed + r * row_bytes, scales + r * groups, cols, spec.mode, out + r * cols);
    return;
  }
  std::vector<float> s(groups), b(groups);
  const size_t esz = dtype_size(scales_dtype);
  for (size_t r = 0; r < rows; ++r) {
    convert_to_f32(scales_dtype, scales + r * groups * esz, s.data(), groups);
    convert_to_f32(scales_dtype, biases + r * groups * esz, b.data(), groups);
    affine_dequantize_row(packed + r * row_bytes, s.data(), b.data(), cols, spec.bits, spec.group_size,
                          out + r * cols);
  }
}

}  // namespace mlxcpp
