// A weight matrix as the CUDA kernels take it: its format as one enum and its host
// pointers (into the mapped files), from the program's WeightMatrix (to_matrix_plan).
#pragma once

#include <cstdint>

#include "backend/weight_matrix.h"

namespace mlxcpp {

struct MatrixPlan {
  int64_t rows = 0, cols = 0;
  enum class Kind { F32, F16, BF16, Affine, MxFp4, MxFp8, NvFp4 } kind = Kind::F32;
  int bits = 0, group_size = 0;     // quantized kinds
  int scale_bytes = 0;              // affine: 4 (f32), 2 (f16 or bf16); fp modes: 1
  bool scales_f16 = false;          // affine with 2-byte scales: f16 (else bf16)
  const uint8_t* data = nullptr;    // rows × cols elements, packed for quantized kinds
  const uint8_t* scales = nullptr;  // rows × cols/group_size
  const uint8_t* biases = nullptr;  // affine: same shape and dtype as scales
  const float* bias = nullptr;      // the Linear's additive bias [rows], or null

  bool quantized() const { return kind >= Kind::Affine; }
  uint64_t data_bytes() const {
    if (!quantized()) return uint64_t(rows * cols) * (kind == Kind::F32 ? 4u : 2u);
    return uint64_t(rows * cols) * uint64_t(bits) / 8u;
  }
  uint64_t scale_bytes_total() const {
    return quantized() ? uint64_t(rows * cols / group_size) * uint64_t(scale_bytes) : 0;
  }
  bool same_format(const MatrixPlan& o) const {
    return cols == o.cols && kind == o.kind && bits == o.bits && group_size == o.group_size &&
           scale_bytes == o.scale_bytes && scales_f16 == o.scales_f16 && (bias != nullptr) == (o.bias != nullptr);
  }
};

inline MatrixPlan to_matrix_plan(const WeightMatrix& w) {
  MatrixPlan m;
  m.rows = w.rows;
  m.cols = w.cols;
  m.data = w.data;
  m.scales = w.scales;
  m.biases = w.biases;
  m.bias = w.bias;
  if (!w.quant) {
    m.kind = w.dtype == DType::F32   ? MatrixPlan::Kind::F32
             : w.dtype == DType::F16 ? MatrixPlan::Kind::F16
                                     : MatrixPlan::Kind::BF16;
    return m;
  }
  const QuantSpec& q = *w.quant;
  m.bits = q.bits;
  m.group_size = q.group_size;
  switch (q.mode) {
    case QuantMode::Affine:
      m.kind = MatrixPlan::Kind::Affine;
      m.scale_bytes = int(dtype_size(w.dtype));
      m.scales_f16 = w.dtype == DType::F16;
      break;
    case QuantMode::MxFp4:
      m.kind = MatrixPlan::Kind::MxFp4, m.scale_bytes = 1;
      break;
    case QuantMode::MxFp8:
      m.kind = MatrixPlan::Kind::MxFp8, m.scale_bytes = 1;
      break;
    case QuantMode::NvFp4:
      m.kind = MatrixPlan::Kind::NvFp4, m.scale_bytes = 1;
      break;
  }
  return m;
}

}  // namespace mlxcpp
