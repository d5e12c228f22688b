// The matrix-vector kernels (gemv.cu); backend/cuda/matmul.cu chooses between them and
// the dequantize + cuBLAS path.
#pragma once

#include "backend/cuda/kernels.cuh"

namespace mlxcpp::cuda {

void gemv_int8(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y, int64_t y_stride,
               cudaStream_t st);
// The tensor-core product for decode rows (gemm_tc.cu): 4-bit affine weights with 16-bit
// scales, K a multiple of 128; x is float32 and is converted into s.xconv (n · cols
// 16-bit values at most s.x_elems); the split-K partial sums take s.tc_partial, of
// tensor_core_partial_elems(rows, cols, n) floats.
bool tensor_core_eligible(const DevMatrix& m);
int64_t tensor_core_partial_elems(int64_t rows, int64_t cols, int n);
void gemm_tensor_cores(const DevMatrix& m, const float* x, int n, float* y, int64_t y_stride, MatmulScratch& s,
                       cudaStream_t st);
void gemv_f32(const DevMatrix& m, const float* x, int n, float* y, int64_t y_stride, cudaStream_t st);

}  // namespace mlxcpp::cuda
