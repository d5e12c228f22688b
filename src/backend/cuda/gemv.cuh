// The matrix-vector kernels (gemv.cu); backend/cuda/matmul.cu chooses between them and
// the dequantize + cuBLAS path.
#pragma once

#include "backend/cuda/kernels.cuh"

namespace mlxcpp::cuda {

void gemv_int8(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y, int64_t y_stride,
               cudaStream_t st);
void gemv_f32(const DevMatrix& m, const float* x, int n, float* y, int64_t y_stride, cudaStream_t st);

}  // namespace mlxcpp::cuda
