// What the two attention kernels share (attention.cu, attention_decode.cu): a decode row's
// heads prepared in the kernel, and the merge of a row's spans by the last block to finish.
#pragma once

#include <cfloat>

#include "backend/cuda/head_prep.cuh"

namespace mlxcpp::cuda {

template <typename T>
__device__ __forceinline__ float kv_at(const void* base, int64_t i);
template <>
__device__ __forceinline__ float kv_at<float>(const void* base, int64_t i) {
  return static_cast<const float*>(base)[i];
}
template <>
__device__ __forceinline__ float kv_at<__nv_bfloat16>(const void* base, int64_t i) {
  return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[i]);
}

// One step of a thread's online softmax over P scores (soft-capped first when softcap > 0;
// an invalid position weighs 0): raises the running max m, fills each position's weight
// w = exp(score − m), adds them to the running sum l and returns the factor by which the
// values accumulated so far must be rescaled.
template <int P>
__device__ __forceinline__ float online_softmax_step(float (&score)[P], const bool (&valid)[P], float softcap, float& m,
                                                     float& l, float (&w)[P]) {
  float m_new = m;
#pragma unroll
  for (int p = 0; p < P; ++p) {
    if (softcap > 0.0f) score[p] = softcap * tanhf(score[p] / softcap);
    if (valid[p]) m_new = fmaxf(m_new, score[p]);
  }
  const float corr = expf(m - m_new);
  float sum = 0.0f;
#pragma unroll
  for (int p = 0; p < P; ++p) sum += w[p] = valid[p] ? expf(score[p] - m_new) : 0.0f;
  l = l * corr + sum;
  m = m_new;
  return corr;
}

// Block-wide: the G query heads of KV head kvh into qs[0..G), prepared (normalised and
// rotated at pos) when a.prepare, as they come from qkv_prepare otherwise; with `owner` the
// new key too (qs[G], prepared) and the key and value stored into the cache. Ends with the
// block's threads seeing qs and the stored key and value.
template <typename T, int MAXG, int DMAX>
__device__ __forceinline__ void load_query_heads(float (&qs)[MAXG + 1][DMAX], const float* qrow, int64_t kvh, int G,
                                                 const AttnArgs& a, int64_t pos, bool owner, const KvLayer& kv,
                                                 const int32_t* table) {
  const int64_t D = a.D;
  const int count = G + (owner ? 1 : 0);
  const float* krow = qrow + (a.H + kvh) * D;
  const float* vrow = qrow + (a.H + a.KV + kvh) * D;
  for (int64_t e = threadIdx.x; e < count * D; e += blockDim.x) {
    const int64_t h = e / D, d = e - h * D;
    qs[h][d] = h < G ? qrow[(kvh * G + h) * D + d] : krow[d];
  }
  if (a.prepare) {
    const float* norm_w[MAXG + 1];
#pragma unroll
    for (int h = 0; h <= MAXG; ++h) norm_w[h] = h < G ? a.q_norm : a.k_norm;
    prepare_heads(&qs[0][0], count, DMAX, D, norm_w, a.eps, &a.rope, pos);
  }
  if (owner) {
    __syncthreads();
    const int64_t off = kv_index(kv, table, kvh, D, pos);
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
      store_kv<T>(kv.pool, off + d, qs[G][d]);
      store_kv<T>(kv.pool, off + kv.value_elems + d, vrow[d]);
    }
  }
  __syncthreads();
}

// Called by every block of row i's KV head kvh once its spans' partial results are written
// (partial[(i·H + h)·a.splits + span] = D weighted values, then the span's max and sum): the
// last block to arrive merges all `splits` spans into out_rows (G heads of D values) and
// leaves the counter at zero for the next layer. Returns whether this block merged.
template <int MAXG>
__device__ __forceinline__ bool merge_spans(const AttnArgs& a, float* partial, int64_t i, int64_t kvh, int G,
                                            int splits, int arrivals, float* out_rows) {
  const int64_t D = a.D;
  __shared__ bool last;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(&a.counters[i * a.KV + kvh], 1u) == unsigned(arrivals - 1);
  __syncthreads();
  if (!last) return false;
  __threadfence();
  // Every span's (M, L) at once (the other blocks wrote them: read past L1, which may
  // hold this buffer's previous use), then each output value from all spans.
  __shared__ float all_m[MAXG][kMaxAttentionSpans], all_l[MAXG][kMaxAttentionSpans];
  __shared__ float span_m[MAXG], span_l[MAXG];
  for (int e = threadIdx.x; e < G * splits; e += blockDim.x) {
    const int g = e / splits, sp = e - g * splits;
    const float* p = partial + ((i * a.H + kvh * G + g) * a.splits + sp) * (D + 2);
    all_m[g][sp] = __ldcg(p + D);
    all_l[g][sp] = __ldcg(p + D + 1);
  }
  __syncthreads();
  if (threadIdx.x < G) {
    const int g = threadIdx.x;
    float M = -FLT_MAX, L = 0.0f;
    for (int sp = 0; sp < splits; ++sp)
      if (all_l[g][sp] > 0.0f) M = fmaxf(M, all_m[g][sp]);
    for (int sp = 0; sp < splits; ++sp)
      if (all_l[g][sp] > 0.0f) L += all_l[g][sp] * expf(all_m[g][sp] - M);
    if (a.sinks) L += expf(a.sinks[kvh * G + g] - M);
    span_m[g] = M, span_l[g] = L;
  }
  __syncthreads();
  // Each span's share (0 for an empty one, whose values are 0 too), so that the sums
  // below are branch-free and their loads all in flight at once: this merge is on the
  // critical path of every layer.
  __shared__ float share[MAXG][kMaxAttentionSpans];
  for (int e = threadIdx.x; e < G * splits; e += blockDim.x) {
    const int g = e / splits, sp = e - g * splits;
    share[g][sp] = all_l[g][sp] > 0.0f ? expf(all_m[g][sp] - span_m[g]) / span_l[g] : 0.0f;
  }
  __syncthreads();
  for (int64_t e = threadIdx.x; e < G * D; e += blockDim.x) {
    const int g = int(e / D);
    const int64_t d = e - g * D;
    const float* p = partial + (i * a.H + kvh * G + g) * a.splits * (D + 2) + d;
    float sum = 0.0f;
#pragma unroll 8
    for (int sp = 0; sp < splits; ++sp) sum += __ldcg(p + sp * (D + 2)) * share[g][sp];
    out_rows[e] = sum;
  }
  if (threadIdx.x == 0) a.counters[i * a.KV + kvh] = 0;
  return true;
}

}  // namespace mlxcpp::cuda
