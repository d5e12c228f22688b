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
// The int8 tensor-core product for decode passes of at least kMinInt8MmaRows rows
// (gemm_int8.cu): 4-bit affine weights with groups of 64 or more; each token's outputs are
// the same bits as gemv_int8's. Fewer rows take gemv_int8's tiles, faster there
// (bench/RESULTS.md, session 19). It runs as thread-block clusters: sm_90 and newer.
constexpr int kMinInt8MmaRows = 32;
bool int8_mma_eligible(const DevMatrix& m);
void gemm_int8_mma(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y, int64_t y_stride,
                   cudaStream_t st);
void gemv_f32(const DevMatrix& m, const float* x, int n, float* y, int64_t y_stride, cudaStream_t st);

}  // namespace mlxcpp::cuda
