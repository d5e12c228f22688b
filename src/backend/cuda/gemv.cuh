// The matrix-vector kernels (gemv.cu); backend/cuda/matmul.cu chooses between them and
// the dequantize + cuBLAS path.
#pragma once

#include "backend/cuda/kernels.cuh"

namespace mlxcpp::cuda {

void gemv_int8(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y, int64_t y_stride,
               cudaStream_t st);
// The tensor-core product for decode rows (gemm_tc.cu): 4-bit affine weights with 16-bit
// scales, K a multiple of 128; x is float32 and is converted into `scratch` (n · cols
// 16-bit values at most scratch_elems).
bool tensor_core_eligible(const DevMatrix& m);
void gemm_tensor_cores(const DevMatrix& m, const float* x, int n, float* y, int64_t y_stride, void* scratch,
                       int64_t scratch_elems, cudaStream_t st);
void gemv_f32(const DevMatrix& m, const float* x, int n, float* y, int64_t y_stride, cudaStream_t st);

}  // namespace mlxcpp::cuda
