// Preparing one attention head after the q/k/v projection: Qwen 3's per-head RMSNorm and
// RoPE, in shared memory, block-wide (every thread of the block calls it). Shared by the
// prefill kernel (qkv_prepare.cu) and decode's attention, which prepares its own heads.
#pragma once

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/kernels.cuh"

namespace mlxcpp::cuda {

// heads[h * stride + d] for h < count: head h is normalised with norm_w[h] (if not null;
// one warp per head), then every head is rotated at `pos` (if rope), with two or three
// block-wide barriers in all however many heads there are.
__device__ __forceinline__ void prepare_heads(float* heads, int count, int64_t stride, int64_t D,
                                              const float* const* norm_w, float eps, const RopeArgs* rope,
                                              int64_t pos) {
  __syncthreads();  // heads[] was just written
  bool any_norm = false;
  for (int h = 0; h < count; ++h) any_norm = any_norm || norm_w[h] != nullptr;
  if (any_norm) {
    const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    for (int h = threadIdx.x >> 5; h < count; h += warps) {
      if (!norm_w[h]) continue;
      float* x = heads + h * stride;
      float ss = 0.0f;
      for (int64_t d = lane; d < D; d += 32) ss += x[d] * x[d];
      const float inv = rsqrtf(warp_sum(ss) / float(D) + eps);
      for (int64_t d = lane; d < D; d += 32) x[d] = norm_w[h][d] * (x[d] * inv);
    }
    __syncthreads();
  }
  if (rope) {
    // As transformers: the angle pos·inv_freq and its cos/sin in float32.
    const float p = float(double(pos) * rope->position_scale);
    const int64_t half = rope->dims / 2;
    for (int64_t e = threadIdx.x; e < count * half; e += blockDim.x) {
      const int64_t h = e / half, i = e - h * half;
      float* x = heads + h * stride;
      const float angle = p * rope->inv_freq[i];
      const float c = cosf(angle) * rope->mscale, s = sinf(angle) * rope->mscale;
      const int64_t a = rope->traditional ? 2 * i : i, b = rope->traditional ? 2 * i + 1 : i + half;
      const float x0 = x[a], x1 = x[b];
      x[a] = x0 * c - x1 * s;
      x[b] = x1 * c + x0 * s;
    }
    __syncthreads();
  }
}

template <typename T>
__device__ __forceinline__ void store_kv(void* base, int64_t off, float v);
template <>
__device__ __forceinline__ void store_kv<float>(void* base, int64_t off, float v) { static_cast<float*>(base)[off] = v; }
template <>
__device__ __forceinline__ void store_kv<__nv_bfloat16>(void* base, int64_t off, float v) {
  static_cast<__nv_bfloat16*>(base)[off] = __float2bfloat16(v);
}

}  // namespace mlxcpp::cuda
