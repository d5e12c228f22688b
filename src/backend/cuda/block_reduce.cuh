// Block-wide sum for the row kernels (blockDim.x a multiple of 32, at most 1024).
#pragma once

#include "backend/cuda/cuda_common.cuh"

namespace mlxcpp::cuda {

__device__ __forceinline__ float block_sum(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // partial[] may still be read by an earlier call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  float t = lane < warps ? partial[lane] : 0.0f;
  return warp_sum(t);
}

// After the block wrote y[0..cols) (cols % 32 == 0): each warp quantizes 32-value blocks
// for dp4a (see XIn).
__device__ __forceinline__ void quantize_row_in_block(const float* y, int64_t cols, int8_t* xq, float2* xd) {
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t b = warp; b < cols / 32; b += warps) {
    const float v = y[b * 32 + lane];
    const float amax = warp_max(fabsf(v));
    const float sum = warp_sum(v);
    const float d = amax / 127.0f;
    xq[b * 32 + lane] = int8_t(d == 0.0f ? 0 : __float2int_rn(v / d));
    if (lane == 0) xd[b] = make_float2(d, sum);
  }
}

}  // namespace mlxcpp::cuda
