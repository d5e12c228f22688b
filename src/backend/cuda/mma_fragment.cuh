// Where the bf16 tensor-core decode product (gemm_tc.cu) puts an m16n8
// accumulator fragment: lane (g, t) holds rows g and g + 8 of the 16-row tile, tokens 2t
// and 2t + 1 of the 8-token tile, as values k = 0..3 (k >> 1: the row, k & 1: the token).
// A product of one K split writes y with the Linear's bias; a split writes its own slice
// of the partial sums, which a second kernel adds (and biases).
#pragma once

#include "backend/cuda/kernels.cuh"

namespace mlxcpp::cuda {

struct FragmentOut {
  float* out;
  int64_t stride, rows;
  int n;
  const float* bias;  // null for a split's partial sums

  __device__ FragmentOut(const DevMatrix& m, float* y, int64_t y_stride, float* partial, int tokens)
      : out(gridDim.z == 1 ? y : partial + int64_t(blockIdx.z) * tokens * m.rows),
        stride(gridDim.z == 1 ? y_stride : m.rows),
        rows(m.rows),
        n(tokens),
        bias(gridDim.z == 1 ? m.bias : nullptr) {}

  // Value k of the fragment whose tile starts at row `row0` and token `tok0`.
  __device__ __forceinline__ void store(int64_t row0, int tok0, int g, int t, int k, float v) const {
    const int64_t row = row0 + g + (k >> 1) * 8;
    const int tok = tok0 + 2 * t + (k & 1);
    if (row < rows && tok < n) out[int64_t(tok) * stride + row] = bias ? v + bias[row] : v;
  }
};

}  // namespace mlxcpp::cuda
