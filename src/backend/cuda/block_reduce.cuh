// What the row kernels share (blockDim.x a multiple of 32, at most 1024): the block-wide
// sum and the two-code int8 quantization of activations for dp4a.
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

// Two int8 passes per value, as the CPU engine's decode: q1 = round(v/d) with d = max|x|/127
// over the block of 32, and q2 = round((v − q1·d)/(d/254)) for what q1 missed, so that
// v ≈ d·(q1 + q2/254) within d/508 (one pass alone: d/2, which measured 8 % of the largest
// logit on the bundled model).
__device__ __forceinline__ void quantize2(float v, float d, int8_t& q1, int8_t& q2) {
  if (d == 0.0f) {
    q1 = q2 = 0;
    return;
  }
  const int a = __float2int_rn(v / d);
  const int b = __float2int_rn((v - float(a) * d) * (254.0f / d));
  q1 = int8_t(a);
  q2 = int8_t(max(-127, min(127, b)));
}

// One block of 32 values, one per lane of the warp (every lane calls it): this lane's two
// codes into *q1, *q2 (skipped when q1 is null) and, from lane 0, (d, the exact sum of the 32
// values) into *xd (skipped when null).
__device__ __forceinline__ void quantize_warp_block(float v, int8_t* q1, int8_t* q2, float2* xd) {
  const float amax = warp_max(fabsf(v));
  const float sum = warp_sum(v);
  const float d = amax / 127.0f;
  if (q1) quantize2(v, d, *q1, *q2);
  if (xd && (threadIdx.x & 31) == 0) *xd = make_float2(d, sum);
}

// After the block wrote y[0..cols) (cols % 32 == 0): each warp quantizes 32-value blocks
// for dp4a (see XIn); the second codes go to xq[q2 + i].
__device__ __forceinline__ void quantize_row_in_block(const float* y, int64_t cols, int8_t* xq, float2* xd,
                                                      int64_t q2) {
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t b = warp; b < cols / 32; b += warps)
    quantize_warp_block(y[b * 32 + lane], &xq[b * 32 + lane], &xq[q2 + b * 32 + lane], &xd[b]);
}

}  // namespace mlxcpp::cuda
