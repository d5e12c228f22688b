// Row-wise and element-wise kernels: the embedding lookup, the gated activations and
// Gemma 2's soft-capping.
#include <algorithm>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/kernels.cuh"

namespace mlxcpp::cuda {
namespace {

__global__ void embed_kernel(DevMatrix e, const int32_t* tokens, float scale, float* x) {
  griddep_wait();
  const int t = blockIdx.x;
  const int64_t row = tokens[t];
  for (int64_t u = threadIdx.x; u < e.cols / 8; u += blockDim.x) {
    float w[8];
    load8(e, row, u, w);
    for (int k = 0; k < 8; ++k) x[t * e.cols + u * 8 + k] = w[k] * scale;
  }
}

// act(gate) · up.
__device__ __forceinline__ float activate(float g, float u, Activation act, float limit) {
  switch (act) {
    case Activation::Silu: return g / (1.0f + expf(-g)) * u;
    case Activation::Gelu: return 0.5f * g * (1.0f + erff(g * 0.70710678118654752f)) * u;
    case Activation::ClampedSwiglu: {  // gpt-oss
      g = fminf(g, limit);
      u = fminf(fmaxf(u, -limit), limit);
      return g / (1.0f + expf(-1.702f * g)) * (u + 1.0f);
    }
    default: {
      const float c = 0.7978845608028654f;  // sqrt(2/pi)
      return 0.5f * g * (1.0f + tanhf(c * (g + 0.044715f * g * g * g))) * u;
    }
  }
}

// One thread per output value; with xq (F % 32 == 0) each warp also quantizes its block
// of 32 for dp4a.
__global__ void act_mul_kernel(const float* gu, int n, int64_t F, Activation act, float limit, float* out, int8_t* xq,
                               float2* xd) {
  griddep_wait();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool valid = i < int64_t(n) * F;
  const int64_t t = valid ? i / F : 0, k = valid ? i % F : 0;
  const float* row = gu + t * 2 * F;
  const float v = valid ? activate(row[k], row[F + k], act, limit) : 0.0f;
  if (valid) out[i] = v;
  if (!xq) return;
  // A warp is one block of 32 (F % 32 == 0).
  quantize_warp_block(v, valid ? &xq[i] : nullptr, valid ? &xd[i / 32] : nullptr);
}

__global__ void softcap_kernel(float* x, int64_t count, float cap) {
  griddep_wait();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) x[i] = cap * tanhf(x[i] / cap);
}

__global__ void argmax_kernel(const float* x, int64_t n, unsigned long long* key, const uint32_t* allowed) {
  griddep_wait();
  unsigned long long best = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    if (!allowed || ((allowed[i >> 5] >> (i & 31)) & 1u)) best = max(best, argmax_key(x[i], i));
  for (int o = 16; o > 0; o >>= 1) best = max(best, __shfl_xor_sync(0xffffffffu, best, o));
  if ((threadIdx.x & 31) == 0) atomicMax(key, best);
}

}  // namespace

void argmax_row(const float* x, int64_t n, unsigned long long* key, cudaStream_t st, const uint32_t* allowed) {
  MLXCPP_CUDA_CHECK(cudaMemsetAsync(key, 0, sizeof *key, st));
  launch(argmax_kernel, std::min(ceil_div(n, 256), 128u), 256, 0, st, x, n, key, allowed);
}

void embed_rows(const DevMatrix& embed, const int32_t* tokens, int n, float scale, float* x, cudaStream_t st) {
  launch(embed_kernel, n, 256, 0, st, embed, tokens, scale, x);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

void act_mul(const float* gu, int n, int64_t F, Activation act, float limit, float* out, int8_t* xq, float2* xd,
             cudaStream_t st) {
  const int64_t count = int64_t(n) * F;
  launch(act_mul_kernel, ceil_div(count, 256), 256, 0, st, gu, n, F, act, limit, out, F % 32 == 0 ? xq : nullptr, xd);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

void softcap(float* x, int64_t count, float cap, cudaStream_t st) {
  launch(softcap_kernel, ceil_div(count, 256), 256, 0, st, x, count, cap);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

}  // namespace mlxcpp::cuda
