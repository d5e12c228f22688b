// After the q/k/v projection of a prefill chunk: Qwen 3's per-head RMSNorm of q and k,
// RoPE on q and k, and the new keys and values written into their sequences' KV blocks. One block per
// (token, head) of the H query, KV key and KV value heads. (Decode's attention kernel does
// this itself for its one token.)
#include "backend/cuda/head_prep.cuh"

namespace mlxcpp::cuda {
namespace {

constexpr int kThreads = 128;

__global__ void qkv_prepare_kernel(float* qkv, int64_t H, int64_t KV, int64_t D, const float* q_norm,
                                   const float* k_norm, float eps, RopeArgs rope, const PassRow* rows,
                                   const int32_t* tables, const float* freqs, KvLayer kv) {
  extern __shared__ float head[];  // D floats
  griddep_wait();
  const int64_t t = blockIdx.x, hh = blockIdx.y;
  const PassRow row = rows[t];
  const int64_t pos = row.pos;
  rope.inv_freq = freqs + row.freqs + rope.freq_offset;
  float* v = qkv + t * (H + 2 * KV) * D + hh * D;
  const bool is_q = hh < H, is_k = !is_q && hh < H + KV;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) head[d] = v[d];
  const float* norm_w[1] = {is_q ? q_norm : is_k ? k_norm : nullptr};
  prepare_heads(head, 1, D, D, norm_w, eps, is_q || is_k ? &rope : nullptr, pos);
  if (is_q) {
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) v[d] = head[d];
    return;
  }
  const int64_t kvh = is_k ? hh - H : hh - H - KV;
  const int64_t off = kv_index(kv, tables + row.table, kvh, D, pos) + (is_k ? 0 : kv.value_elems);
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    if (kv.f32) static_cast<float*>(kv.pool)[off + d] = head[d];
    else static_cast<__nv_bfloat16*>(kv.pool)[off + d] = __float2bfloat16(head[d]);
  }
}

}  // namespace

void qkv_prepare(float* qkv, int n, int64_t H, int64_t KV, int64_t D, const float* q_norm, const float* k_norm,
                 float eps, const RopeArgs& rope, const PassRow* rows, const int32_t* tables, const float* freqs,
                 KvLayer kv, cudaStream_t st) {
  const dim3 grid(unsigned(n), unsigned(H + 2 * KV));
  launch(qkv_prepare_kernel, grid, kThreads, size_t(D) * sizeof(float), st, qkv, H, KV, D, q_norm, k_norm, eps, rope,
         rows, tables, freqs, kv);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

}  // namespace mlxcpp::cuda
