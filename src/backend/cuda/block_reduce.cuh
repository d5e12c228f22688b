// What the row kernels share (blockDim.x a multiple of 32, at most 1024): the block-wide
// sum, the two-code int8 quantization of activations for dp4a, and one row's residual add
// + RMSNorm.
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

// After the block wrote y[0..cols) (cols % 32 == 0): each warp quantizes 32-value blocks
// for dp4a (see XIn); the second codes go to xq[q2 + i].
__device__ __forceinline__ void quantize_row_in_block(const float* y, int64_t cols, int8_t* xq, float2* xd,
                                                      int64_t q2) {
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t b = warp; b < cols / 32; b += warps) {
    const float v = y[b * 32 + lane];
    const float amax = warp_max(fabsf(v));
    const float sum = warp_sum(v);
    const float d = amax / 127.0f;
    quantize2(v, d, xq[b * 32 + lane], xq[q2 + b * 32 + lane]);
    if (lane == 0) xd[b] = make_float2(d, sum);
  }
}

// One row, block-wide: x += (delta_w ? rms_norm(delta, delta_w) : delta), then
// h = rms_norm(x, w) (+ quantized for dp4a when xq).
__device__ __forceinline__ void residual_norm_row(float* x, const float* delta, const float* delta_w, const float* w,
                                                  float* h, int64_t cols, float eps, bool offset, int8_t* xq,
                                                  float2* xd, int64_t q2) {
  float dinv = 1.0f;
  if (delta_w) {
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
      const float d = delta[i];
      ss += d * d;
    }
    dinv = rsqrtf(block_sum(ss) / float(cols) + eps);
  }
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const float d = delta[i];
    const float v = x[i] + (delta_w ? (d * dinv) * (offset ? 1.0f + delta_w[i] : delta_w[i]) : d);
    x[i] = v;
    ss += v * v;
  }
  const float inv = rsqrtf(block_sum(ss) / float(cols) + eps);
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) h[i] = (x[i] * inv) * (offset ? 1.0f + w[i] : w[i]);
  if (xq && cols % 32 == 0) quantize_row_in_block(h, cols, xq, xd, q2);
}

}  // namespace mlxcpp::cuda
