// Attention over the KV cache, split-K ("flash-decoding"): each block takes one query
// token, one KV head (with the query heads that share it, GQA) and one span of positions,
// and keeps a running (max, sum, weighted values) in one pass (online softmax); the last
// block of a token's spans merges them. Decode splits a row's positions into many spans
// (their length set per row from its position alone, so that a sequence's result does not
// depend on the batch) so that a single token still fills the GPU; prefill has a block per
// query token already and uses one span. Attention sinks (gpt-oss) add exp(sink − max) to
// the softmax's denominator when a row's spans are merged. Decode rows of a bf16 cache
// whose head size attention_decode.cu takes go there instead (a warp per span).
#include "backend/cuda/attention_spans.cuh"

namespace mlxcpp::cuda {
namespace {

constexpr int kWarps = 4;

// Each lane holds up to DPL of the head's D values (lane·DPL + j < D); G ≤ MAXG query
// heads per KV head.
template <typename T, int DPL, int MAXG>
__global__ void __launch_bounds__(kWarps * 32) attention_split(const float* qkv, const PassRow* rows,
                                                               const int32_t* tables, const float* freqs, KvLayer kv,
                                                               AttnArgs a, float* partial, float* out, int8_t* xq,
                                                               float2* xd) {
  constexpr int DMAX = DPL * 32;
  griddep_wait();
  const int64_t D = a.D;
  const int G = int(a.H / a.KV);
  const int64_t i = blockIdx.x, kvh = blockIdx.y, s = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const PassRow row = rows[i];
  if (a.whole_rows_only && row.chunk > 0) return;
  const int64_t pos = row.pos;
  // The row's spans: of `chunk` positions each, or one for all of them.
  const int64_t chunk = row.chunk > 0 ? row.chunk : pos + 1;
  const int splits = int((pos + chunk) / chunk);
  if (s >= splits) return;
  const int32_t* table = tables + row.table;
  a.rope.inv_freq = freqs + row.freqs + a.rope.freq_offset;
  const int64_t first = a.window > 0 ? max(int64_t(0), pos - a.window + 1) : 0;
  const int64_t lo = max(first, s * chunk), hi = min(pos + 1, (s + 1) * chunk);

  float q[MAXG][DPL], acc[MAXG][DPL], m[MAXG], l[MAXG];
  const float* qrow = qkv + i * (a.H + 2 * a.KV) * D;
  __shared__ float qs[MAXG + 1][DMAX];  // the query heads, then the new key
  // Decode: this block's query heads, normalised and rotated here; the block whose span
  // holds the new position also prepares and stores its key and value (no other block
  // reads that position).
  const bool owner = a.prepare && pos / chunk == s;
  if (a.prepare && (lo < hi || owner)) load_query_heads<T, MAXG, DMAX>(qs, qrow, kvh, G, a, pos, owner, kv, table);
#pragma unroll
  for (int g = 0; g < MAXG; ++g) {
    m[g] = -FLT_MAX;
    l[g] = 0.0f;
#pragma unroll
    for (int j = 0; j < DPL; ++j) {
      acc[g][j] = 0.0f;
      const int64_t e = lane * DPL + j;
      const float qv = g < G && e < D ? (a.prepare ? qs[g][e] : qrow[(kvh * G + g) * D + e]) : 0.0f;
      q[g][j] = qv * a.scale;
    }
  }
  // A warp takes P consecutive positions a step: their K and V loads are in flight
  // together and their score reductions interleave, instead of one position's latency
  // chain (load, 5 shuffles per head, exponentials) after another.
  constexpr int P = DPL * MAXG <= 16 ? 4 : DPL * MAXG <= 32 ? 2 : 1;
  for (int64_t t0 = lo + warp * P; t0 < hi; t0 += kWarps * P) {
    float k[P][DPL], v[P][DPL];
#pragma unroll
    for (int p = 0; p < P; ++p) {
      const int64_t t = t0 + p;
      const int64_t at = t < hi ? kv_index(kv, table, kvh, D, t) : 0;
#pragma unroll
      for (int j = 0; j < DPL; ++j) {
        const int64_t e = lane * DPL + j;
        k[p][j] = e < D && t < hi ? kv_at<T>(kv.pool, at + e) : 0.0f;
        v[p][j] = e < D && t < hi ? kv_at<T>(kv.pool, at + kv.value_elems + e) : 0.0f;
      }
    }
#pragma unroll
    for (int g = 0; g < MAXG; ++g) {
      if (g >= G) break;
      float score[P];
#pragma unroll
      for (int p = 0; p < P; ++p) {
        float dot = 0.0f;
#pragma unroll
        for (int j = 0; j < DPL; ++j) dot += q[g][j] * k[p][j];
        score[p] = dot;
      }
#pragma unroll
      for (int o = 16; o; o >>= 1)
#pragma unroll
        for (int p = 0; p < P; ++p) score[p] += __shfl_xor_sync(0xffffffffu, score[p], o);
      bool valid[P];
#pragma unroll
      for (int p = 0; p < P; ++p) valid[p] = t0 + p < hi;
      float w[P];
      const float corr = online_softmax_step(score, valid, a.softcap, m[g], l[g], w);
#pragma unroll
      for (int j = 0; j < DPL; ++j) {
        float add = 0.0f;
#pragma unroll
        for (int p = 0; p < P; ++p) add += w[p] * v[p][j];
        acc[g][j] = acc[g][j] * corr + add;
      }
    }
  }
  // Merge the warps' states into this span's (M, L, acc) per head.
  __shared__ float sm[kWarps][MAXG], sl[kWarps][MAXG];
  __shared__ float sacc[kWarps][MAXG][DMAX];
  __shared__ float span_m[MAXG], span_l[MAXG];
#pragma unroll
  for (int g = 0; g < MAXG; ++g) {
    if (lane == 0) sm[warp][g] = m[g], sl[warp][g] = l[g];
#pragma unroll
    for (int j = 0; j < DPL; ++j) sacc[warp][g][lane * DPL + j] = acc[g][j];  // DMAX ≥ 32·DPL
  }
  __syncthreads();
  if (threadIdx.x < G) {
    const int g = threadIdx.x;
    float M = -FLT_MAX, L = 0.0f;
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, sm[w][g]);
    for (int w = 0; w < kWarps; ++w) L += sl[w][g] > 0.0f ? sl[w][g] * expf(sm[w][g] - M) : 0.0f;
    // A sink's share of the softmax, once per row: here when this span is the row's only one.
    if (splits == 1 && a.sinks) L += expf(a.sinks[kvh * G + g] - M);
    span_m[g] = M, span_l[g] = L;
  }
  __syncthreads();
  const int64_t GD = G * D;
  float* out_rows = out + (i * a.H + kvh * G) * D;  // the G heads' outputs are adjacent
  // This span's values per head: final when it is the only span, else for the merge below.
  for (int64_t e = threadIdx.x; e < GD; e += blockDim.x) {
    const int g = int(e / D);
    const int64_t d = e - g * D;
    float sum = 0.0f;
    for (int w = 0; w < kWarps; ++w) sum += sl[w][g] > 0.0f ? sacc[w][g][d] * expf(sm[w][g] - span_m[g]) : 0.0f;
    if (splits == 1) out_rows[e] = sum / span_l[g];
    else partial[((i * a.H + kvh * G + g) * a.splits + s) * (D + 2) + d] = sum;
  }
  if (splits > 1) {
    if (threadIdx.x < G) {
      float* p = partial + ((i * a.H + kvh * G + threadIdx.x) * a.splits + s) * (D + 2);
      p[D] = span_m[threadIdx.x];
      p[D + 1] = span_l[threadIdx.x];
    }
    if (!merge_spans<MAXG>(a, partial, i, kvh, G, splits, splits, out_rows)) return;
  }
  if (xq)
    quantize_row_in_block(out_rows, GD, xq + (i * a.H + kvh * G) * D, xd + (i * a.H + kvh * G) * D / 32);
}

template <typename T, int DPL>
void launch_split(const float* qkv, int n, const PassRow* rows, const int32_t* tables, const float* freqs, KvLayer kv, const AttnArgs& a, float* partial,
                  float* out, int8_t* xq, float2* xd, cudaStream_t st) {
  // Rows of one span need one block per KV head.
  const dim3 grid(unsigned(n), unsigned(a.KV), unsigned(a.whole_rows_only || !a.split_rows ? 1 : a.splits));
  const int64_t G = a.H / a.KV;
  if (G <= 1) launch(attention_split<T, DPL, 1>, grid, kWarps * 32, 0, st, qkv, rows, tables, freqs, kv, a, partial, out, xq, xd);
  else if (G <= 2) launch(attention_split<T, DPL, 2>, grid, kWarps * 32, 0, st, qkv, rows, tables, freqs, kv, a, partial, out, xq, xd);
  else if (G <= 4) launch(attention_split<T, DPL, 4>, grid, kWarps * 32, 0, st, qkv, rows, tables, freqs, kv, a, partial, out, xq, xd);
  else if (G <= 8) launch(attention_split<T, DPL, 8>, grid, kWarps * 32, 0, st, qkv, rows, tables, freqs, kv, a, partial, out, xq, xd);
  else throw std::runtime_error("attention: more than 8 query heads per KV head");
}

template <typename T>
void launch_for_dim(const float* qkv, int n, const PassRow* rows, const int32_t* tables, const float* freqs, KvLayer kv, const AttnArgs& a, float* partial,
                    float* out, int8_t* xq, float2* xd, cudaStream_t st) {
  if (a.D <= 32) return launch_split<T, 1>(qkv, n, rows, tables, freqs, kv, a, partial, out, xq, xd, st);
  if (a.D <= 64) return launch_split<T, 2>(qkv, n, rows, tables, freqs, kv, a, partial, out, xq, xd, st);
  if (a.D <= 96) return launch_split<T, 3>(qkv, n, rows, tables, freqs, kv, a, partial, out, xq, xd, st);
  if (a.D <= 128) return launch_split<T, 4>(qkv, n, rows, tables, freqs, kv, a, partial, out, xq, xd, st);
  if (a.D <= 256) return launch_split<T, 8>(qkv, n, rows, tables, freqs, kv, a, partial, out, xq, xd, st);
  throw std::runtime_error("attention: head_dim " + std::to_string(a.D) + " is over 256");
}

}  // namespace

bool attention_supports_head_dim(int64_t d) { return d > 0 && d <= 256; }

void attention(const float* qkv, int n, const PassRow* rows, const int32_t* tables, const float* freqs, KvLayer kv, const AttnArgs& a, float* partial, float* out,
               int8_t* xq, float2* xd, cudaStream_t st) {
  if (a.splits < 1 || a.splits > kMaxAttentionSpans) throw std::runtime_error("attention: span count out of range");
  // Quantizing for dp4a needs whole 32-value blocks within a head.
  const bool quant = xq && a.D % 32 == 0;
  if (a.splits > 1 && decode_attention_supported(kv, a.H, a.KV, a.D)) {
    if (a.split_rows) decode_attention(qkv, n, rows, tables, freqs, kv, a, partial, out, quant ? xq : nullptr, xd, st);
    if (!a.whole_rows) return;
    AttnArgs whole = a;
    whole.whole_rows_only = true;
    return launch_for_dim<__nv_bfloat16>(qkv, n, rows, tables, freqs, kv, whole, partial, out, quant ? xq : nullptr, xd, st);
  }
  if (kv.f32) launch_for_dim<float>(qkv, n, rows, tables, freqs, kv, a, partial, out, quant ? xq : nullptr, xd, st);
  else launch_for_dim<__nv_bfloat16>(qkv, n, rows, tables, freqs, kv, a, partial, out, quant ? xq : nullptr, xd, st);
}

}  // namespace mlxcpp::cuda
