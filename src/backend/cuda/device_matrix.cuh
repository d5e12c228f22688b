// A linear layer's weight in device memory, in the stored format, and the one function
// that decodes eight consecutive elements of any supported format. Every kernel that
// reads weights (the generic matrix-vector product, the dequantization before cuBLAS,
// the embedding lookup) goes through load8, so each format is decoded in one place.
#pragma once

#include "backend/cuda/cuda_common.cuh"
#include "backend/cuda/matrix_plan.h"

namespace mlxcpp::cuda {

struct DevMatrix {
  int64_t rows = 0, cols = 0;
  MatrixPlan::Kind kind = MatrixPlan::Kind::F32;
  int bits = 0, group = 0, scale_bytes = 0;
  bool scales_f16 = false;
  // 4-bit affine weights are repacked at upload so that each 32-bit word holds elements
  // 0-3 in the low nibbles of its bytes and 4-7 in the high nibbles: a mask then lines
  // four of them up with four int8 activations for one dp4a instruction.
  bool nibbles_split = false;
  // Precomputed so that kernels never divide by a runtime value (64-bit division is a
  // long instruction sequence on the GPU): group sizes are powers of two.
  int group_shift = 0;           // log2(group)
  int64_t groups_per_row = 0;    // cols / group
  int64_t bytes_per_row = 0;
  uint8_t* data = nullptr;
  uint8_t* scales = nullptr;
  uint8_t* biases = nullptr;
  float* bias = nullptr;

  __host__ __device__ int64_t row_bytes() const { return bytes_per_row; }
  __host__ __device__ int64_t groups() const { return groups_per_row; }
  // Fills the precomputed fields from kind, bits, group and cols.
  void finish_layout() {
    bytes_per_row = kind == MatrixPlan::Kind::F32 ? cols * 4 : kind <= MatrixPlan::Kind::BF16 ? cols * 2 : cols * bits / 8;
    groups_per_row = group ? cols / group : 0;
    group_shift = 0;
    while (group && (1 << group_shift) < group) ++group_shift;
  }
};

__device__ __forceinline__ float load_scale(const uint8_t* p, int64_t i, int bytes, bool f16) {
  if (bytes == 4) return reinterpret_cast<const float*>(p)[i];
  const uint16_t b = reinterpret_cast<const uint16_t*>(p)[i];
  return f16 ? f16_bits_to_f32(b) : bf16_bits_to_f32(b);
}

__device__ __forceinline__ float fp8_e4m3(uint32_t v) {
  const uint32_t e = (v >> 3) & 15u, m = v & 7u;
  float r;
  if (e == 0) r = float(m) * (1.0f / 512.0f);
  else if (e == 15 && m == 7) r = __int_as_float(0x7fc00000);
  else r = ldexpf(1.0f + float(m) * 0.125f, int(e) - 7);
  return (v & 0x80u) ? -r : r;
}

__device__ __forceinline__ float fp4_e2m1(uint32_t c) {
  const float mag[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  const float v = mag[c & 7u];
  return (c & 8u) ? -v : v;
}

// w[0..8) = elements 8u .. 8u+7 of row r, exactly (float32 arithmetic).
__device__ __forceinline__ void load8(const DevMatrix& m, int64_t r, int64_t u, float w[8]) {
  using K = MatrixPlan::Kind;
  const uint8_t* row = m.data + r * m.row_bytes();
  if (m.kind == K::F32) {
    const float4* p = reinterpret_cast<const float4*>(row) + 2 * u;
    const float4 a = p[0], b = p[1];
    w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w, w[4] = b.x, w[5] = b.y, w[6] = b.z, w[7] = b.w;
    return;
  }
  if (m.kind == K::F16 || m.kind == K::BF16) {
    const uint4 v = reinterpret_cast<const uint4*>(row)[u];
    const uint32_t words[4] = {v.x, v.y, v.z, v.w};
    for (int j = 0; j < 4; ++j) {
      const uint16_t lo = uint16_t(words[j] & 0xffffu), hi = uint16_t(words[j] >> 16);
      w[2 * j] = m.kind == K::F16 ? f16_bits_to_f32(lo) : bf16_bits_to_f32(lo);
      w[2 * j + 1] = m.kind == K::F16 ? f16_bits_to_f32(hi) : bf16_bits_to_f32(hi);
    }
    return;
  }
  // Quantized: eight elements are exactly `bits` bytes, starting at byte u*bits.
  const uint8_t* p = row + u * m.bits;
  uint64_t stream = 0;
  if (m.bits == 4) stream = *reinterpret_cast<const uint32_t*>(p);  // aligned: rows are whole words
  else if (m.bits == 8) stream = *reinterpret_cast<const unsigned long long*>(p);
  else
    for (int b = 0; b < m.bits; ++b) stream |= uint64_t(p[b]) << (8 * b);
  uint32_t code[8];
  if (m.nibbles_split) {
    for (int k = 0; k < 4; ++k) {
      code[k] = uint32_t(stream >> (8 * k)) & 15u;
      code[k + 4] = uint32_t(stream >> (8 * k + 4)) & 15u;
    }
  } else {
    const uint32_t mask = (1u << m.bits) - 1u;
    for (int k = 0; k < 8; ++k) code[k] = uint32_t(stream >> (k * m.bits)) & mask;
  }
  const int64_t g = r * m.groups() + ((8 * u) >> m.group_shift);
  if (m.kind == K::Affine) {
    const float s = load_scale(m.scales, g, m.scale_bytes, m.scales_f16);
    const float b = load_scale(m.biases, g, m.scale_bytes, m.scales_f16);
    for (int k = 0; k < 8; ++k) w[k] = s * float(code[k]) + b;
  } else if (m.kind == K::MxFp8) {
    const float s = ldexpf(1.0f, int(m.scales[g]) - 127);
    for (int k = 0; k < 8; ++k) w[k] = s * fp8_e4m3(code[k]);
  } else {
    const uint8_t sc = m.scales[g];
    const float s = m.kind == K::NvFp4 ? fp8_e4m3(sc) : (sc == 255 ? __int_as_float(0x7fc00000) : ldexpf(1.0f, int(sc) - 127));
    for (int k = 0; k < 8; ++k) w[k] = s * fp4_e2m1(code[k]);
  }
}

}  // namespace mlxcpp::cuda
