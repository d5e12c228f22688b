// Decode attention over a bf16 KV cache, a warp per span. A decode row's positions are cut
// into spans whose length depends on its position alone (PassRow::chunk); each warp streams
// one span and writes its (max, sum, weighted values), and the last block of the row's KV
// head merges them (merge_spans). How spans are grouped into blocks is free: a span's
// result is one warp's, the same bits whatever the batch, the grid or the other warps.
//
// Why not the block-per-span kernel (attention.cu), which decode used first: with a
// batch, spans are short (tens of positions), so each block's fixed costs — the heads'
// preparation, a merge of its warps through shared memory, the barriers — were most of its
// time (bench/RESULTS.md, session 15). Here a block of kWarps spans prepares the heads
// once, and its warps never wait for each other until the block is done.
//
// Lanes: a K or V row is D bf16 values; each lane loads DPL of them (16 or 8 bytes), so
// LPR = D / DPL lanes hold a row and a warp loads RPW = 32 / LPR rows at once, P times per
// step. A position's score is the sum over its LPR lanes (log2 LPR shuffles); each group of
// LPR lanes keeps its own online-softmax state, merged across groups at the span's end.
#include "backend/cuda/attention_spans.cuh"

namespace mlxcpp::cuda {
namespace {

constexpr int kWarps = 4;  // spans per block

// A K or V vector of bf16 values, widened exactly.
__device__ __forceinline__ void unpack(const uint4& w, float (&f)[8]) {
  const uint32_t u[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    f[2 * j] = __uint_as_float(u[j] << 16);
    f[2 * j + 1] = __uint_as_float(u[j] & 0xFFFF0000u);
  }
}
__device__ __forceinline__ void unpack(const uint2& w, float (&f)[4]) {
  f[0] = __uint_as_float(w.x << 16);
  f[1] = __uint_as_float(w.x & 0xFFFF0000u);
  f[2] = __uint_as_float(w.y << 16);
  f[3] = __uint_as_float(w.y & 0xFFFF0000u);
}

template <int DPL>
struct KvVec;
template <>
struct KvVec<8> {
  using type = uint4;
};
template <>
struct KvVec<4> {
  using type = uint2;
};

template <int D, int DPL, int MAXG>
__global__ void __launch_bounds__(kWarps * 32, 4)
    attention_spans(const float* qkv, const PassRow* rows, const int32_t* tables, const float* freqs, KvLayer kv,
                    AttnArgs a, float* partial, float* out, int8_t* xq, float2* xd) {
  constexpr int LPR = D / DPL, RPW = 32 / LPR;
  constexpr int P = DPL * MAXG <= 32 ? 4 : 2;
  using Vec = typename KvVec<DPL>::type;
  static_assert(LPR >= 1 && LPR <= 32 && 32 % LPR == 0, "a K row spans a power-of-two number of lanes");
  griddep_wait();
  const int G = int(a.H / a.KV);
  const int64_t i = blockIdx.x, kvh = blockIdx.y;
  const PassRow row = rows[i];
  if (row.chunk <= 0) return;  // a row of several tokens: attention.cu's kernel takes it
  const int64_t pos = row.pos, chunk = row.chunk;
  const int splits = int((pos + chunk) / chunk);
  const int first_span = int(blockIdx.z) * kWarps;
  if (first_span >= splits) return;
  const int blocks = (splits + kWarps - 1) / kWarps;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int s = first_span + warp;
  const int32_t* table = tables + row.table;
  a.rope.inv_freq = freqs + row.freqs + a.rope.freq_offset;
  const int64_t first = a.window > 0 ? max(int64_t(0), pos - a.window + 1) : 0;
  const int64_t lo = max(first, int64_t(s) * chunk), hi = min(pos + 1, int64_t(s + 1) * chunk);

  const float* qrow = qkv + i * (a.H + 2 * a.KV) * D;
  __shared__ __align__(16) float qs[MAXG + 1][D];  // the query heads, then the new key
  const bool owner = a.prepare && pos / chunk >= first_span && pos / chunk < first_span + kWarps;
  const int64_t block_lo = max(first, int64_t(first_span) * chunk);
  const int64_t block_hi = min(pos + 1, int64_t(first_span + kWarps) * chunk);
  if (block_lo < block_hi || owner)
    load_query_heads<__nv_bfloat16, MAXG, D>(qs, qrow, kvh, G, a, pos, owner, kv, table);

  // The scaled query heads stay in shared memory (read as 16-byte vectors per step) to
  // leave the registers to the state and to the loads in flight.
  if (block_lo < block_hi) {
    for (int64_t e = threadIdx.x; e < int64_t(G) * D; e += blockDim.x) qs[e / D][e % D] *= a.scale;
    __syncthreads();
  }
  const int grp = lane / LPR, gl = lane % LPR;  // this lane's row in a load, and its values there
  float acc[MAXG][DPL], m[MAXG], l[MAXG];
#pragma unroll
  for (int g = 0; g < MAXG; ++g) {
    m[g] = -FLT_MAX;
    l[g] = 0.0f;
#pragma unroll
    for (int j = 0; j < DPL; ++j) acc[g][j] = 0.0f;
  }
  const __nv_bfloat16* pool = static_cast<const __nv_bfloat16*>(kv.pool);
  for (int64_t t0 = lo; t0 < hi; t0 += RPW * P) {
    Vec kr[P], vr[P];
    bool valid[P];
#pragma unroll
    for (int p = 0; p < P; ++p) {
      const int64_t t = t0 + p * RPW + grp;
      valid[p] = t < hi;
      const int64_t at = kv_index(kv, table, kvh, D, valid[p] ? t : lo) + gl * DPL;
      kr[p] = *reinterpret_cast<const Vec*>(pool + at);
      vr[p] = *reinterpret_cast<const Vec*>(pool + at + kv.value_elems);
    }
#pragma unroll
    for (int g = 0; g < MAXG; ++g) {
      if (g >= G) break;
      float q[DPL];
#pragma unroll
      for (int j = 0; j < DPL; j += 4) {
        const float4 v4 = *reinterpret_cast<const float4*>(&qs[g][gl * DPL + j]);
        q[j] = v4.x, q[j + 1] = v4.y, q[j + 2] = v4.z, q[j + 3] = v4.w;
      }
      float score[P];
#pragma unroll
      for (int p = 0; p < P; ++p) {
        float k[DPL];
        unpack(kr[p], k);
        float dot = 0.0f;
#pragma unroll
        for (int j = 0; j < DPL; ++j) dot += q[j] * k[j];
        score[p] = dot;
      }
#pragma unroll
      for (int o = LPR / 2; o; o >>= 1)
#pragma unroll
        for (int p = 0; p < P; ++p) score[p] += __shfl_xor_sync(0xffffffffu, score[p], o);
      float w[P];
      const float corr = online_softmax_step(score, valid, a.softcap, m[g], l[g], w);
      float add[DPL];
#pragma unroll
      for (int j = 0; j < DPL; ++j) add[j] = 0.0f;
#pragma unroll
      for (int p = 0; p < P; ++p) {
        float v[DPL];
        unpack(vr[p], v);
#pragma unroll
        for (int j = 0; j < DPL; ++j) add[j] += w[p] * v[j];
      }
#pragma unroll
      for (int j = 0; j < DPL; ++j) acc[g][j] = acc[g][j] * corr + add[j];
    }
  }
  // The lane groups' states merged (each group's lanes end with the same state), then the
  // span's written by the first group.
#pragma unroll
  for (int o = LPR; o < 32; o <<= 1)
#pragma unroll
    for (int g = 0; g < MAXG; ++g) {
      const float m_o = __shfl_xor_sync(0xffffffffu, m[g], o), l_o = __shfl_xor_sync(0xffffffffu, l[g], o);
      const float M = fmaxf(m[g], m_o);
      const float e_self = expf(m[g] - M), e_other = expf(m_o - M);
      l[g] = l[g] * e_self + l_o * e_other;
#pragma unroll
      for (int j = 0; j < DPL; ++j)
        acc[g][j] = acc[g][j] * e_self + __shfl_xor_sync(0xffffffffu, acc[g][j], o) * e_other;
      m[g] = M;
    }
  if (s < splits && grp == 0) {
#pragma unroll
    for (int g = 0; g < MAXG; ++g) {
      if (g >= G) break;
      float* p = partial + ((i * a.H + kvh * G + g) * a.splits + s) * (D + 2);
#pragma unroll
      for (int j = 0; j < DPL; ++j) p[gl * DPL + j] = acc[g][j];
      if (gl == 0) p[D] = m[g], p[D + 1] = l[g];
    }
  }
  float* out_rows = out + (i * a.H + kvh * G) * D;
  if (!merge_spans<MAXG>(a, partial, i, kvh, G, splits, blocks, out_rows)) return;
  if (xq) quantize_row_in_block(out_rows, G * D, xq + (i * a.H + kvh * G) * D, xd + (i * a.H + kvh * G) * D / 32);
}

template <int D, int DPL>
void launch_dim(const float* qkv, int n, const PassRow* rows, const int32_t* tables, const float* freqs, KvLayer kv,
                const AttnArgs& a, float* partial, float* out, int8_t* xq, float2* xd, cudaStream_t st) {
  const dim3 grid(unsigned(n), unsigned(a.KV), unsigned((a.splits + kWarps - 1) / kWarps));
  const int64_t G = a.H / a.KV;
  if (G <= 1)
    launch(attention_spans<D, DPL, 1>, grid, kWarps * 32, 0, st, qkv, rows, tables, freqs, kv, a, partial, out, xq, xd);
  else if (G <= 2)
    launch(attention_spans<D, DPL, 2>, grid, kWarps * 32, 0, st, qkv, rows, tables, freqs, kv, a, partial, out, xq, xd);
  else if (G <= 4)
    launch(attention_spans<D, DPL, 4>, grid, kWarps * 32, 0, st, qkv, rows, tables, freqs, kv, a, partial, out, xq, xd);
  else if constexpr (D <= 128)  // 8 heads × 8 values would take 128 registers: 4 values a lane
    launch(attention_spans<D, 4, 8>, grid, kWarps * 32, 0, st, qkv, rows, tables, freqs, kv, a, partial, out, xq, xd);
}

}  // namespace

bool decode_attention_supported(const KvLayer& kv, int64_t H, int64_t KV, int64_t D) {
  if (kv.f32 || KV <= 0 || H % KV != 0) return false;
  const int64_t G = H / KV;
  return ((D == 16 || D == 32 || D == 64 || D == 128) && G <= 8) || (D == 256 && G <= 4);
}

void decode_attention(const float* qkv, int n, const PassRow* rows, const int32_t* tables, const float* freqs,
                      KvLayer kv, const AttnArgs& a, float* partial, float* out, int8_t* xq, float2* xd,
                      cudaStream_t st) {
  if (!decode_attention_supported(kv, a.H, a.KV, a.D)) throw std::logic_error("decode_attention: unsupported shape");
  if (a.D == 16)
    launch_dim<16, 8>(qkv, n, rows, tables, freqs, kv, a, partial, out, xq, xd, st);
  else if (a.D == 32)
    launch_dim<32, 8>(qkv, n, rows, tables, freqs, kv, a, partial, out, xq, xd, st);
  else if (a.D == 64)
    launch_dim<64, 8>(qkv, n, rows, tables, freqs, kv, a, partial, out, xq, xd, st);
  else if (a.D == 128)
    launch_dim<128, 8>(qkv, n, rows, tables, freqs, kv, a, partial, out, xq, xd, st);
  else
    launch_dim<256, 8>(qkv, n, rows, tables, freqs, kv, a, partial, out, xq, xd, st);
}

}  // namespace mlxcpp::cuda
