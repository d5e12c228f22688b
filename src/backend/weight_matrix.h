// A 2-D weight as stored in the model file — float (F32/F16/BF16) or MLX-quantized
// (packed U32 + scales [+ biases]) — used in place from the mapped file or from a
// backend's copy. A plain description: the model layer binds it (model/weight_binding.h),
// the backends run it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "format/dtype.h"
#include "quant/quant_spec.h"

namespace mlxcpp {

// f32: exact dequantization (w = scale*q + bias in f32), the reference path.
// fast: the SIMD path of backend/cpu (same maths, other summation order).
enum class Precision { F32, Fast };

// How a quantized row's codes are ordered. Mlx: as in the file (element k at bit k·bits).
// GroupLanes: in each block of 16 weight groups (the row's last block may hold fewer, n),
// the row's 4-byte words interleaved by group — word c of group L at word c·n + L of the
// block — so that one 64-byte load holds the same word of every group of the block and a
// vector lane keeps to one group (the CPU's VNNI kernels, backend/cpu/int8_kernels.inc).
// Within a word the bits are as in the file. Only affine 4- and 8-bit codes take it.
enum class CodeOrder { Mlx, GroupLanes };
constexpr int64_t kGroupLaneBlock = 16;  // groups a GroupLanes block interleaves

struct WeightMatrix {
  std::string name;  // module path, for errors
  int64_t rows = 0, cols = 0;
  std::optional<QuantSpec> quant;
  DType dtype = DType::F32;  // float weights: their dtype; quantized: the scales' dtype
  const uint8_t* data = nullptr;
  const uint8_t* scales = nullptr;
  const uint8_t* biases = nullptr;
  const float* bias = nullptr;  // the Linear's additive bias [rows], or null
  CodeOrder order = CodeOrder::Mlx;

  // Exact float32 row: w = scale * q + bias computed in f32 from the stored scale/bias.
  void dequantize_row(int64_t r, float* out) const;
  uint64_t bytes() const;
  size_t row_bytes() const;  // of data
};

// One row's codes from one order into the other (rows of a quantized matrix whose group
// size is a multiple of 32 bits of codes).
void reorder_codes(const WeightMatrix& w, const uint8_t* row, CodeOrder from, CodeOrder to, uint8_t* out);

}  // namespace mlxcpp
