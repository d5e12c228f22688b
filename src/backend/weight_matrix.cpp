#include "backend/weight_matrix.h"

#include "quant/bit_packing.h"
#include "quant/fp_formats.h"
#include "util/float_bits.h"

namespace mlxcpp {

void WeightMatrix::dequantize_row(int64_t r, float* out) const {
  if (!quant) {
    convert_to_f32(dtype, data + size_t(r * cols) * dtype_size(dtype), out, size_t(cols));
    return;
  }
  const QuantSpec& q = *quant;
  const size_t groups = size_t(cols / q.group_size);
  const uint8_t* packed = data + size_t(r) * size_t(cols) * size_t(q.bits) / 8;
  if (q.mode != QuantMode::Affine) {
    fp_dequantize_row(packed, scales + size_t(r) * groups, size_t(cols), q.mode, out);
    return;
  }
  const size_t esz = dtype_size(dtype);
  const uint8_t* s = scales + size_t(r) * groups * esz;
  const uint8_t* b = biases + size_t(r) * groups * esz;
  for (size_t g = 0; g < groups; ++g) {
    const float scale = read_f32(dtype, s, g), bias = read_f32(dtype, b, g);
    const size_t k0 = g * size_t(q.group_size);
    for (size_t k = k0; k < k0 + size_t(q.group_size); ++k) out[k] = scale * float(unpack_bits(packed, k, q.bits)) + bias;
  }
}

uint64_t WeightMatrix::bytes() const {
  if (!quant) return uint64_t(rows * cols) * dtype_size(dtype);
  const uint64_t groups = uint64_t(rows * cols / quant->group_size);
  const uint64_t sz = quant->mode == QuantMode::Affine ? dtype_size(dtype) : 1;
  return uint64_t(rows * cols) * uint64_t(quant->bits) / 8 + groups * sz * (quant->has_biases() ? 2 : 1);
}

}  // namespace mlxcpp
