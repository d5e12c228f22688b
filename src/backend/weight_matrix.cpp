#include "backend/weight_matrix.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "quant/bit_packing.h"
#include "quant/fp_formats.h"
#include "util/float_bits.h"

namespace mlxcpp {

size_t WeightMatrix::row_bytes() const {
  return quant ? size_t(cols) * size_t(quant->bits) / 8 : size_t(cols) * dtype_size(dtype);
}

void reorder_codes(const WeightMatrix& w, const uint8_t* row, CodeOrder from, CodeOrder to, uint8_t* out) {
  const size_t bytes = w.row_bytes();
  if (from == to) {
    std::memcpy(out, row, bytes);
    return;
  }
  // A block's words as a [groups][words per group] matrix, transposed (GroupLanes) or back.
  const int64_t words = int64_t(w.quant->group_size) * w.quant->bits / 32, groups = w.cols / w.quant->group_size;
  const bool to_lanes = from == CodeOrder::Mlx;
  for (int64_t g0 = 0; g0 < groups; g0 += kGroupLaneBlock) {
    const int64_t n = std::min(kGroupLaneBlock, groups - g0);
    uint32_t in[kGroupLaneBlock * 32], at[kGroupLaneBlock * 32];  // words <= 32: codes of <= 8 bits, groups <= 128
    std::memcpy(in, row + size_t(g0 * words * 4), size_t(n * words * 4));
    if (to_lanes) {
      for (int64_t L = 0; L < n; ++L)
        for (int64_t c = 0; c < words; ++c) at[c * n + L] = in[L * words + c];
    } else {
      for (int64_t L = 0; L < n; ++L)
        for (int64_t c = 0; c < words; ++c) at[L * words + c] = in[c * n + L];
    }
    std::memcpy(out + size_t(g0 * words * 4), at, size_t(n * words * 4));
  }
}

void WeightMatrix::dequantize_row(int64_t r, float* out) const {
  if (!quant) {
    convert_to_f32(dtype, data + size_t(r * cols) * dtype_size(dtype), out, size_t(cols));
    return;
  }
  const QuantSpec& q = *quant;
  const size_t groups = size_t(cols / q.group_size);
  const uint8_t* packed = data + size_t(r) * row_bytes();
  if (order != CodeOrder::Mlx) {
    thread_local std::vector<uint8_t> mlx;
    mlx.resize(row_bytes());
    reorder_codes(*this, packed, order, CodeOrder::Mlx, mlx.data());
    packed = mlx.data();
  }
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
