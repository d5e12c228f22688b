// Launchers of the CUDA kernels, one file per operation. All take the stream to run on
// and never synchronise; positions are read from device memory (`start`), so a decode
// step can be captured once in a CUDA graph and replayed.
#pragma once

#include <cublas_v2.h>

#include "backend/cuda/device_matrix.cuh"
#include "backend/program.h"
#include "backend/token_draw.h"

namespace mlxcpp::cuda {

// Activations of a matrix product: float32 rows, and (optional) the same rows quantized to
// int8 in blocks of 32 for dp4a: one code per value (quantize_warp_block in
// block_reduce.cuh) and (scale d = max|x|/127, sum of the coded values) per block. Without them linear() quantizes the rows first.
struct XIn {
  const float* x = nullptr;
  const int8_t* xq = nullptr;
  const float2* xd = nullptr;
};

// Scratch a matrix product may need (owned by the decoder).
struct MatmulScratch {
  cublasHandle_t cublas = nullptr;
  void* tile = nullptr;  // dequantized weight rows for cuBLAS
  int64_t tile_elems = 0;
  void* xconv = nullptr;  // the activations converted to bf16 for cuBLAS, or quantized to int8
  int64_t x_elems = 0;
  float2* xd = nullptr;  // the quantized activations' (scale, sum) per block of 32
  int64_t xd_blocks = 0;
  // Decode products of at least this many rows go to the tensor-core kernel (gemm_tc.cu)
  // where it serves the matrix; 0: never.
  int tensor_core_rows = 0;
  float* tc_partial = nullptr;  // its split-K partial sums
  int64_t tc_partial_elems = 0;
};

// Rows per tile of the matrix-vector kernels; prefill chunks of up to this many rows take
// them too.
constexpr int kMaxGemvRows = 4;

// Which kernels a product takes: the matrix-vector ones (any number of rows), cuBLAS, or
// (Auto) the matrix-vector ones up to kMaxGemvRows rows.
enum class Product { Auto, Gemv, Gemm };

// Whether the int8 dp4a kernel serves this matrix (affine 4/8-bit, groups of 32k).
bool dp4a_eligible(const DevMatrix& m);

// y[t, offset + r] (row stride y_stride) = x[t] · W[r] + bias[r], for t < n.
void linear(const DevMatrix& m, XIn x, int n, float* y, int64_t y_stride, bool f32, MatmulScratch& s, cudaStream_t st,
            Product product = Product::Auto);


// Repacks a 4-bit affine matrix in place (see DevMatrix::nibbles_split).
void split_nibbles(uint8_t* data, int64_t bytes, cudaStream_t st);

// x[t] = embed[tokens[t]] · scale.
void embed_rows(const DevMatrix& embed, const int32_t* tokens, int n, float scale, float* x, cudaStream_t st);

// y = rms_norm(x) for n rows (w null: y = x); xq/xd (optional) receive y quantized for dp4a.
void rms_norm(const float* x, const float* w, float* y, int n, int64_t cols, float eps, bool offset, int8_t* xq,
              float2* xd, cudaStream_t st);
// x += (delta_w ? rms_norm(delta, delta_w) : delta); then y = rms_norm(x, w) (+ quantized).
void residual_norm(float* x, const float* delta, const float* delta_w, const float* w, float* y, int n, int64_t cols,
                   float eps, bool offset, int8_t* xq, float2* xd, cudaStream_t st);
// residual_norm with a mixture's output as the delta: row r's is Σ_k weight[r·K + k] ·
// y[r·K + k] (y: the K slots' rows of `cols` values), summed inside the norm's kernel
// where the row fits its registers, else by moe_combine into `scratch` first.
struct MixtureDelta {
  const float* y = nullptr;
  const float* weight = nullptr;
  int K = 0;
};
void residual_norm_mixture(float* x, MixtureDelta mix, float* scratch, const float* delta_w, const float* w, float* y,
                           int n, int64_t cols, float eps, bool offset, int8_t* xq, float2* xd, cudaStream_t st);
// In place: rms_norm of the `cols` values at x + r·stride, r < n.
void segment_norm(float* x, int n, int64_t stride, int64_t cols, const float* w, float eps, cudaStream_t st);

// out[t, k] = act(gu[t, k]) · gu[t, F + k] (+ quantized); ClampedSwiglu clamps at `limit`.
void act_mul(const float* gu, int n, int64_t F, Activation act, float limit, float* out, int8_t* xq, float2* xd,
             cudaStream_t st);

// Mixture-of-experts layers (moe.cu). Top k at most this many experts per token, of at
// most kMaxExperts.
constexpr int kMaxExpertsPerToken = 16;
constexpr int kMaxExperts = 512;
// Each of n rows' top K of E experts from the router's logits [n, E]: expert[t·K + k] in
// ascending order and its weight (softmax probability, renormalised over the K if asked).
void moe_route(const float* logits, int n, int E, int K, bool renormalize, int32_t* expert, float* weight,
               cudaStream_t st);
// y[s, r] (row stride y_stride) = experts[expert[s]·3 + which + z][r] · x[s / x_div] + its
// bias, for slots s < slots and z < count (matrix z's outputs at y + z·y_next); `experts`
// is device memory, each matrix `rows` rows, all in the format of `format` (a host copy of
// one). Quantized activations (x.xq) take the dense decode's dp4a rows where the format
// allows; otherwise float32 (x.x).
void expert_gemv(const DevMatrix* experts, const DevMatrix& format, int which, int count, int64_t rows,
                 const int32_t* expert, int slots, XIn x, int x_div, float* y, int64_t y_stride, int64_t y_next,
                 cudaStream_t st);
// out[t] = Σ_k weight[t·K + k] · y[t·K + k] for n rows of H values.
void moe_combine(const float* y, const float* weight, int n, int K, int64_t H, float* out, cudaStream_t st);
void softcap(float* x, int64_t count, float cap, cudaStream_t st);
// The index of the largest of x[0..n) (the first, on ties, as std::max_element), packed in
// *key: index = 0xFFFFFFFF − (the key's low 32 bits).
// `allowed` (device memory, a bit per id; null: every id) restricts it to a token mask.
void argmax_row(const float* x, int64_t n, unsigned long long* key, cudaStream_t st, const uint32_t* allowed = nullptr);

// A TokenDraw in device memory: its edits in place, up to kMaxDrawEdits of them, for a
// vocabulary of up to kMaxDrawVocab tokens.
constexpr int kMaxDrawEdits = 512;
constexpr int kMaxDrawVocab = 327680;
struct DrawParams {
  int32_t edits, top_k, min_keep, min_p;
  float temperature, top_p, log_min_p;
  double uniform;
  const uint32_t* allowed;  // device memory, a bit per token id; null: every token
  LogitEdit edit[kMaxDrawEdits];
};
// Fills *out (false, untouched, when the draw has more edits than it holds); `allowed`
// is left null: the caller uploads the draw's mask (write_draw_mask) and points to it.
bool pack_draw(const TokenDraw& d, DrawParams* out);
// The draw's mask as `words` words (vocab / 32, rounded up) for the device: a shorter
// mask's missing words are zero (outside it).
void write_draw_mask(const TokenDraw& d, int64_t words, uint32_t* out);
// The draw of `params` on logits[0..vocab) (the edits applied there in place; readable up
// to a multiple of 4 floats); *key receives the token as argmax_row's key does.
void draw_token(float* logits, int64_t vocab, const DrawParams* params, unsigned long long* key, cudaStream_t st);
void add_bias(float* y, int n, int64_t rows, int64_t y_stride, const float* bias, cudaStream_t st);

struct RopeArgs {
  int64_t dims = 0;
  bool traditional = false;
  double position_scale = 1.0;
  float mscale = 1.0f;
  int64_t freq_offset = 0;          // of this RoPE's frequencies among a sequence's (Gemma 3 has two)
  const float* inv_freq = nullptr;  // device, dims/2 (set per row by the kernels)
};
// The paged KV cache as one layer's kernels see it: blocks of kKvBlock (16) positions,
// each [layer][keys | values][kv_head][16][head_dim] of f32 or bf16; a row finds its
// sequence's blocks in its block table.
struct KvLayer {
  void* pool = nullptr;     // block 0
  int64_t block_elems = 0;  // elements per block
  int64_t layer_elems = 0;  // where this layer's keys start in a block
  int64_t value_elems = 0;  // values after keys: kv_heads × 16 × head_dim
  bool f32 = false;
};

// One row of a pass, in device memory: its position, where its sequence's block table
// and RoPE frequencies start (in PassArgs::tables / freqs) and its decode attention's span
// length (0: the whole range in one span; see attention()).
struct PassRow {
  int32_t pos, table, freqs, chunk;
};

// The element index of (head, pos)'s key in the pool (its value: + value_elems).
__device__ __forceinline__ int64_t kv_index(const KvLayer& kv, const int32_t* table, int64_t head, int64_t D,
                                            int64_t pos) {
  return int64_t(table[pos >> 4]) * kv.block_elems + kv.layer_elems + (head * 16 + (pos & 15)) * D;
}

// On qkv [n, (H + 2KV)·D]: per-head RMSNorm of q and k (when q_norm), RoPE on q and k at
// each row's position (rope.inv_freq unused: the row's frequencies are in `freqs`), and K,
// V stored into the cache.
void qkv_prepare(float* qkv, int n, int64_t H, int64_t KV, int64_t D, const float* q_norm, const float* k_norm,
                 float eps, const RopeArgs& rope, const PassRow* rows, const int32_t* tables, const float* freqs,
                 KvLayer kv, cudaStream_t st);

// AttnArgs::splits at most (decode divides the cache into up to this many spans).
constexpr int kMaxAttentionSpans = 64;

struct AttnArgs {
  int64_t H = 0, KV = 0, D = 0;
  float scale = 1.0f, softcap = 0.0f;
  int64_t window = 0;  // 0: full causal attention
  int splits = 1;  // spans per row at most (the grid's third dimension): 1 or kMaxAttentionSpans
  unsigned* counters = nullptr;  // [n][KV] zeros: spans finished per (token, KV head)
  // Decode (one token): q and the new k, v come straight from the projection and the
  // kernel prepares them (as qkv_prepare would) and stores k, v; no qkv_prepare launch.
  bool prepare = false;
  const float* q_norm = nullptr;
  const float* k_norm = nullptr;
  float eps = 0.0f;
  RopeArgs rope;
  const float* sinks = nullptr;  // [H] a learned logit per query head in every softmax (gpt-oss), or null
  // Which of a pass's rows there are: of one decode token (PassRow::chunk > 0, split into
  // spans) and of several (one span each).
  bool split_rows = true, whole_rows = true;
  bool whole_rows_only = false;  // set by attention(): the split rows are another kernel's
};
// Attention of n rows (q inside qkv, prepared unless a.prepare) over their sequences'
// blocks. A row with a span length (PassRow::chunk) splits its positions into spans of
// that length, which `partial` ([n][H][kMaxAttentionSpans][D + 2]) receives and the last
// to finish combines; a row without one takes them in one span. Into out [n, H·D] (+
// quantized).
bool attention_supports_head_dim(int64_t d);
// Whether decode_attention (a warp per span, bf16 caches) takes a decode row of this
// layer; attention() sends its split rows there when it does.
bool decode_attention_supported(const KvLayer& kv, int64_t H, int64_t KV, int64_t D);
void decode_attention(const float* qkv, int n, const PassRow* rows, const int32_t* tables, const float* freqs,
                      KvLayer kv, const AttnArgs& a, float* partial, float* out, int8_t* xq, float2* xd,
                      cudaStream_t st);
void attention(const float* qkv, int n, const PassRow* rows, const int32_t* tables, const float* freqs, KvLayer kv,
               const AttnArgs& a, float* partial, float* out, int8_t* xq, float2* xd, cudaStream_t st);

}  // namespace mlxcpp::cuda
