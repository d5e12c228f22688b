// What the row kernels share (blockDim.x a multiple of 32, at most 1024): the block-wide
// sum and the int8 quantization of activations for dp4a.
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

// One int8 code per value, as the CPU engine: q = round(v/d) with d = max|x|/127 over the
// block of 32. The block's sum for the weights' affine bias term is that of the coded
// values, d·Σq, not of v: the bias term then carries the same rounding as the scale term,
// and the error is Σ w·(x̂ − v) with w = s·q + b centred, instead of Σ s·q·(x̂ − v) with
// q >= 0 (which measured 8 % of the largest logit on the bundled model, and is why an
// earlier version spent a second code on the residual).
__device__ __forceinline__ int quantize1(float v, float d) { return d == 0.0f ? 0 : __float2int_rn(v / d); }

// One block of 32 values, one per lane of the warp (every lane calls it): this lane's code
// into *q (skipped when null) and, from lane 0, (d, d·Σq) into *xd (skipped when null).
__device__ __forceinline__ void quantize_warp_block(float v, int8_t* q, float2* xd) {
  const float d = warp_max(fabsf(v)) / 127.0f;
  const int c = quantize1(v, d);
  const float coded = d * float(warp_sum_int(c));
  if (q) *q = int8_t(c);
  if (xd && (threadIdx.x & 31) == 0) *xd = make_float2(d, coded);
}

// After the block wrote y[0..cols) (cols % 32 == 0): each warp quantizes 32-value blocks
// for dp4a (see XIn).
__device__ __forceinline__ void quantize_row_in_block(const float* y, int64_t cols, int8_t* xq, float2* xd) {
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t b = warp; b < cols / 32; b += warps) quantize_warp_block(y[b * 32 + lane], &xq[b * 32 + lane], &xd[b]);
}

}  // namespace mlxcpp::cuda
