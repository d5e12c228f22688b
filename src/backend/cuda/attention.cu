// Attention over the KV cache, split-K ("flash-decoding"): each block takes one query
// token, one KV head (with the query heads that share it, GQA) and one span of positions,
// and keeps a running (max, sum, weighted values) in one pass (online softmax); a second
// kernel merges the spans. Decode splits the cache into many spans so that a single token
// still fills the GPU; prefill has a block per query token already and uses one span.
#include <cfloat>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/kernels.cuh"

namespace mlxcpp::cuda {
namespace {

constexpr int kWarps = 4;

template <typename T>
__device__ __forceinline__ float kv_at(const void* base, int64_t i);
template <>
__device__ __forceinline__ float kv_at<float>(const void* base, int64_t i) { return static_cast<const float*>(base)[i]; }
template <>
__device__ __forceinline__ float kv_at<__nv_bfloat16>(const void* base, int64_t i) {
  return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[i]);
}

// Each lane holds up to DPL of the head's D values (lane·DPL + j < D); G ≤ MAXG query
// heads per KV head.
template <typename T, int DPL, int MAXG>
__global__ void __launch_bounds__(kWarps * 32) attention_split(const float* qkv, const int32_t* start, KvLayer kv,
                                                               AttnArgs a, float* partial) {
  constexpr int DMAX = DPL * 32;
  const int64_t D = a.D;
  const int G = int(a.H / a.KV);
  const int64_t i = blockIdx.x, kvh = blockIdx.y, s = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t pos = int64_t(*start) + i;
  const int64_t first = a.window > 0 ? max(int64_t(0), pos - a.window + 1) : 0;
  const int64_t lo = max(first, s * a.chunk), hi = min(pos + 1, (s + 1) * a.chunk);

  float q[MAXG][DPL], acc[MAXG][DPL], m[MAXG], l[MAXG];
  const float* qrow = qkv + i * (a.H + 2 * a.KV) * D;
#pragma unroll
  for (int g = 0; g < MAXG; ++g) {
    m[g] = -FLT_MAX;
    l[g] = 0.0f;
#pragma unroll
    for (int j = 0; j < DPL; ++j) {
      acc[g][j] = 0.0f;
      const int64_t e = lane * DPL + j;
      q[g][j] = g < G && e < D ? qrow[(kvh * G + g) * D + e] * a.scale : 0.0f;
    }
  }
  const int64_t plane = kvh * kv.capacity * D;
  // K and V of the warp's next position are loaded while the current one is used.
  float kn[DPL], vn[DPL];
  auto load_kv = [&](int64_t t, float* kk, float* vv) {
#pragma unroll
    for (int j = 0; j < DPL; ++j) {
      const int64_t e = lane * DPL + j;
      kk[j] = e < D && t < hi ? kv_at<T>(kv.k, plane + t * D + e) : 0.0f;
      vv[j] = e < D && t < hi ? kv_at<T>(kv.v, plane + t * D + e) : 0.0f;
    }
  };
  load_kv(lo + warp, kn, vn);
  for (int64_t t = lo + warp; t < hi; t += kWarps) {
    float k[DPL], v[DPL];
#pragma unroll
    for (int j = 0; j < DPL; ++j) k[j] = kn[j], v[j] = vn[j];
    load_kv(t + kWarps, kn, vn);
#pragma unroll
    for (int g = 0; g < MAXG; ++g) {
      if (g >= G) break;
      float dot = 0.0f;
#pragma unroll
      for (int j = 0; j < DPL; ++j) dot += q[g][j] * k[j];
      float score = warp_sum(dot);
      if (a.softcap > 0.0f) score = a.softcap * tanhf(score / a.softcap);
      const float m_new = fmaxf(m[g], score);
      const float corr = expf(m[g] - m_new), p = expf(score - m_new);
      l[g] = l[g] * corr + p;
#pragma unroll
      for (int j = 0; j < DPL; ++j) acc[g][j] = acc[g][j] * corr + p * v[j];
      m[g] = m_new;
    }
  }
  // Merge the warps' states.
  __shared__ float sm[kWarps][MAXG], sl[kWarps][MAXG];
  __shared__ float sacc[kWarps][MAXG][DMAX];
#pragma unroll
  for (int g = 0; g < MAXG; ++g) {
    if (lane == 0) sm[warp][g] = m[g], sl[warp][g] = l[g];
#pragma unroll
    for (int j = 0; j < DPL; ++j) sacc[warp][g][lane * DPL + j] = acc[g][j];  // DMAX ≥ 32·DPL
  }
  __syncthreads();
  for (int g = 0; g < G; ++g) {
    float M = -FLT_MAX;
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, sm[w][g]);
    float* out = partial + ((i * a.H + kvh * G + g) * a.splits + s) * (D + 2);
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
      float sum = 0.0f;
      for (int w = 0; w < kWarps; ++w) sum += sl[w][g] > 0.0f ? sacc[w][g][d] * expf(sm[w][g] - M) : 0.0f;
      out[d] = sum;
    }
    if (threadIdx.x == 0) {
      float L = 0.0f;
      for (int w = 0; w < kWarps; ++w) L += sl[w][g] > 0.0f ? sl[w][g] * expf(sm[w][g] - M) : 0.0f;
      out[D] = M;
      out[D + 1] = L;
    }
  }
}

__global__ void attention_combine(const float* partial, int64_t H, int64_t D, int splits, float* out, int8_t* xq,
                                  float2* xd) {
  const int64_t i = blockIdx.x, h = blockIdx.y;
  const float* p = partial + (i * H + h) * splits * (D + 2);
  float M = -FLT_MAX;
  for (int s = 0; s < splits; ++s)
    if (p[s * (D + 2) + D + 1] > 0.0f) M = fmaxf(M, p[s * (D + 2) + D]);
  float L = 0.0f;
  for (int s = 0; s < splits; ++s) {
    const float ls = p[s * (D + 2) + D + 1];
    if (ls > 0.0f) L += ls * expf(p[s * (D + 2) + D] - M);
  }
  float* o = out + (i * H + h) * D;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float sum = 0.0f;
    for (int s = 0; s < splits; ++s) {
      const float ls = p[s * (D + 2) + D + 1];
      if (ls > 0.0f) sum += p[s * (D + 2) + d] * expf(p[s * (D + 2) + D] - M);
    }
    o[d] = sum / L;
  }
  if (xq) quantize_row_in_block(o, D, xq + (i * H + h) * D, xd + (i * H + h) * D / 32);
}

template <typename T, int DPL>
void launch_split(const float* qkv, int n, const int32_t* start, KvLayer kv, const AttnArgs& a, float* partial,
                  cudaStream_t st) {
  const dim3 grid(unsigned(n), unsigned(a.KV), unsigned(a.splits));
  const int64_t G = a.H / a.KV;
  if (G <= 1) attention_split<T, DPL, 1><<<grid, kWarps * 32, 0, st>>>(qkv, start, kv, a, partial);
  else if (G <= 2) attention_split<T, DPL, 2><<<grid, kWarps * 32, 0, st>>>(qkv, start, kv, a, partial);
  else if (G <= 4) attention_split<T, DPL, 4><<<grid, kWarps * 32, 0, st>>>(qkv, start, kv, a, partial);
  else if (G <= 8) attention_split<T, DPL, 8><<<grid, kWarps * 32, 0, st>>>(qkv, start, kv, a, partial);
  else throw std::runtime_error("attention: more than 8 query heads per KV head");
}

template <typename T>
void launch_for_dim(const float* qkv, int n, const int32_t* start, KvLayer kv, const AttnArgs& a, float* partial,
                    cudaStream_t st) {
  if (a.D <= 32) return launch_split<T, 1>(qkv, n, start, kv, a, partial, st);
  if (a.D <= 64) return launch_split<T, 2>(qkv, n, start, kv, a, partial, st);
  if (a.D <= 96) return launch_split<T, 3>(qkv, n, start, kv, a, partial, st);
  if (a.D <= 128) return launch_split<T, 4>(qkv, n, start, kv, a, partial, st);
  if (a.D <= 256) return launch_split<T, 8>(qkv, n, start, kv, a, partial, st);
  throw std::runtime_error("attention: head_dim " + std::to_string(a.D) + " is over 256");
}

}  // namespace

bool attention_supports_head_dim(int64_t d) { return d > 0 && d <= 256; }

void attention(const float* qkv, int n, const int32_t* start, KvLayer kv, const AttnArgs& a, float* partial, float* out,
               int8_t* xq, float2* xd, cudaStream_t st) {
  if (kv.f32) launch_for_dim<float>(qkv, n, start, kv, a, partial, st);
  else launch_for_dim<__nv_bfloat16>(qkv, n, start, kv, a, partial, st);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
  const dim3 grid(unsigned(n), unsigned(a.H));
  // Quantizing for dp4a needs whole 32-value blocks within a head.
  const bool quant = xq && a.D % 32 == 0;
  attention_combine<<<grid, unsigned((a.D + 31) / 32 * 32), 0, st>>>(partial, a.H, a.D, a.splits, out,
                                                                     quant ? xq : nullptr, quant ? xd : nullptr);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

}  // namespace mlxcpp::cuda
