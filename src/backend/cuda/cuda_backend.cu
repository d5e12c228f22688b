// The CUDA backend: a model program on one GPU. Weights are uploaded once into one device
// allocation (4-bit affine repacked for dp4a); the KV pool's blocks live in one more; the
// activations and scratch are sized for a pass of kChunk rows by a measuring pass over
// the same carving code that hands them out.
//
// A batch runs as passes. A pass holds either the rows of sequences with at most
// kMaxGemvRows tokens (decode steps: their products through the matrix-vector kernels, in
// tiles of rows), or kChunk rows of one longer prefill step (its products through cuBLAS,
// shaped by that sequence alone). Every row carries its position, block table and RoPE
// frequencies, and its attention's span length comes from its own position, so a
// sequence's results do not depend on the batch around it. A pass of decode rows is
// replayed from a CUDA graph captured for its row count and block-table width: what
// changes from step to step (tokens, positions, tables, draws) is read from device memory.
#include "backend/cuda/cublas_loader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/gemv.cuh"
#include "backend/cuda/kernels.cuh"
#include "backend/cuda/matrix_plan.h"
#include "backend/cuda/upload.cuh"

namespace mlxcpp::cuda {
namespace {

constexpr int64_t kChunk = 512;       // rows per pass
constexpr int64_t kMaxSplitRows = 128;  // decode rows per pass (their attention spans' partial results)

// A decode row's attention span length: 16 positions at least, at most kMaxAttentionSpans
// spans; from the position alone.
int32_t decode_chunk(int64_t pos) {
  const int64_t per = (pos + kMaxAttentionSpans) / kMaxAttentionSpans;
  return int32_t(std::max<int64_t>(16, (per + 15) / 16 * 16));
}

class CudaKvBlocks final : public KvBlockStore {
 public:
  CudaKvBlocks(const KvLayout& l, bool f32, int32_t blocks)
      : layout_(l), f32_(f32), blocks_(blocks), block_elems_(elements_per_block(l)) {
    const uint64_t need = block_bytes() * uint64_t(blocks);
    size_t free_b = 0, total_b = 0;
    MLXCPP_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    if (need > free_b)
      throw std::runtime_error("not enough GPU memory for a KV cache pool of " + std::to_string(int64_t(blocks) * kKvBlock) +
                               " positions: it needs " + gib(need) + ", the GPU has " + gib(free_b) + " free");
    MLXCPP_CUDA_CHECK(cudaMalloc(&pool_, need));
  }
  ~CudaKvBlocks() override {
    if (pool_) cudaFree(pool_);
  }
  int32_t blocks() const override { return blocks_; }
  uint64_t block_bytes() const override { return bytes_per_block(layout_, f32_); }
  static int64_t elements_per_block(const KvLayout& l) { return l.layers * 2 * l.kv_heads * kKvBlock * l.head_dim; }
  static uint64_t bytes_per_block(const KvLayout& l, bool f32) { return uint64_t(elements_per_block(l)) * (f32 ? 4 : 2); }
  void copy_block(int32_t from, int32_t to) override {
    MLXCPP_CUDA_CHECK(cudaMemcpy(static_cast<uint8_t*>(pool_) + block_bytes() * uint64_t(to),
                                 static_cast<uint8_t*>(pool_) + block_bytes() * uint64_t(from), block_bytes(),
                                 cudaMemcpyDeviceToDevice));
  }
  KvLayer layer(int64_t l) const {
    const int64_t plane = layout_.kv_heads * kKvBlock * layout_.head_dim;
    return KvLayer{pool_, block_elems_, l * 2 * plane, plane, f32_};
  }

 private:
  KvLayout layout_;
  bool f32_;
  int32_t blocks_;
  int64_t block_elems_;
  void* pool_ = nullptr;
};

struct DevLayer {
  const float *attn_norm = nullptr, *attn_post_norm = nullptr, *ffn_norm = nullptr, *ffn_post_norm = nullptr;
  const float *q_norm = nullptr, *k_norm = nullptr;
  std::vector<DevMatrix> qkv, gate_up;  // one merged matrix when the parts share a format
  DevMatrix o, down;
  int64_t window = 0;
  int rope = 0;  // which of the program's RoPEs; -1: q and k are not rotated (SmolLM3's NoPE layers)
  bool qk_norm_whole = false;  // q_norm/k_norm over the whole projections (OLMo 2), before the heads
  float scale = 1.0f, softcap = 0.0f;
  const float* sinks = nullptr;  // [heads] or null
  Activation activation = Activation::Silu;
  float clamp_limit = 0.0f;
  // A mixture of experts (when `experts`): the router, and the experts' [E][gate, up,
  // down] matrices as an array in device memory for the kernels that pick them per row.
  DevMatrix router;
  const DevMatrix* experts = nullptr;
  DevMatrix expert_gate_format, expert_down_format;  // host copies of expert 0's (their format)
  int expert_count = 0, top_k = 0;
  bool renormalize = false;
};

std::vector<MatrixPlan> plans(const std::vector<WeightMatrix>& parts) {
  std::vector<MatrixPlan> out;
  for (const WeightMatrix& w : parts) out.push_back(to_matrix_plan(w));
  return out;
}

// One sequence's part of a pass.
struct PassSeq {
  const SequenceStep* step;
  int64_t first, count;  // the step's tokens [first, first + count)
  bool outputs;          // the pass computes this sequence's output rows
};

// What a pass hands back for a sequence: its logits, their argmax, or the token of a draw.
// The masked kinds: constrained decoding, each with its token mask uploaded.
enum class Out { None, Logits, Argmax, Draw, ArgmaxMasked, DrawMasked };
bool masked(Out o) { return o == Out::ArgmaxMasked || o == Out::DrawMasked; }
bool drawn(Out o) { return o != Out::None && o != Out::Logits; }

class CudaBackend final : public Backend {
 public:
  CudaBackend(const ModelProgram& p, const CudaOptions& options) : p_(p) {
    // Below this many rows the matrix-vector kernels read the weights as fast; above it
    // they are compute-bound (int8 dot products per row) and the tensor cores are not.
    constexpr int kTensorCoreBatch = 8;
    scratch_.tensor_core_rows = options.batch_invariant ? 0 : kTensorCoreBatch;
    graphs_enabled_ = options.graphs;
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) throw std::runtime_error("no CUDA device is available");
    MLXCPP_CUDA_CHECK(cudaSetDevice(0));
    cudaDeviceProp prop{};
    MLXCPP_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    if (prop.major < 8)
      throw std::runtime_error(std::string(prop.name) + " has compute capability " + std::to_string(prop.major) + "." +
                               std::to_string(prop.minor) + "; the CUDA backend needs 8.0 (Ampere) or newer");
    device_name_ = prop.name;
    pdl_enabled() = prop.major >= 9;
    sm_ = std::to_string(prop.major) + std::to_string(prop.minor);
    f32_ = p.precision == Precision::F32;
    for (int64_t offset = 0; const RopeSpec& r : p.ropes) {
      ropes_.push_back({r.dims, r.traditional, r.position_scale, r.mscale, offset, nullptr});
      offset += r.dims / 2;
    }
    freqs_per_seq_ = std::max<int64_t>(1, p.rope_freqs());
    plan_weights();
    carve_scratch();  // measuring
    size_t free_b = 0, total_b = 0;
    MLXCPP_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const uint64_t need = weights_.size() + scratch_arena_.size();
    if (need > free_b)
      throw std::runtime_error("not enough GPU memory on " + device_name_ + ": the model needs " + gib(need) + " (" +
                               gib(weights_.size()) + " of weights, " + gib(scratch_arena_.size()) +
                               " of scratch), the GPU has " + gib(free_b) + " free of " + gib(total_b));
    weights_.allocate();
    scratch_arena_.allocate();
    carve_scratch();
    MLXCPP_CUDA_CHECK(cudaMemset(counters_, 0, size_t(kChunk * p.kv_heads) * 4));
    upload();
    MLXCPP_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    if (blas::create(&scratch_.cublas) != CUBLAS_STATUS_SUCCESS) throw std::runtime_error("cuBLAS could not start");
    MLXCPP_CUDA_CHECK(cudaMallocHost(&host_keys_, size_t(kChunk) * sizeof *host_keys_));
    MLXCPP_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  ~CudaBackend() override {
    drop_graphs();
    if (scratch_.cublas) blas::destroy(scratch_.cublas);
    if (stream_) cudaStreamDestroy(stream_);
    for (void* h : {static_cast<void*>(host_logits_), static_cast<void*>(host_params_), static_cast<void*>(host_keys_),
                    static_cast<void*>(host_draws_), static_cast<void*>(host_masks_)})
      if (h) cudaFreeHost(h);
    for (void* d : {static_cast<void*>(logits_), static_cast<void*>(dev_params_), static_cast<void*>(dev_draws_),
                    static_cast<void*>(dev_masks_)})
      if (d) cudaFree(d);
  }

  std::string describe() const override {
    return device_name_ + " (sm_" + sm_ + "): " + gib(weights_.size()) + " of weights, " + gib(scratch_arena_.size()) +
           " of scratch" + (kv_ ? ", " + gib(kv_->block_bytes() * uint64_t(kv_->blocks())) + " of KV cache" : "");
  }

  std::unique_ptr<KvBlockStore> make_kv_store(const KvLayout& layout, int32_t blocks) override {
    const uint64_t block_bytes = CudaKvBlocks::bytes_per_block(layout, f32_);
    if (blocks <= 0) {
      // Room for 64 sequences of 4k positions (or 4 of the whole context, if more), within
      // 90 % of the memory the GPU has free.
      size_t free_b = 0, total_b = 0;
      MLXCPP_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
      const int64_t wanted = std::max(64 * kv_blocks_for(std::min<int64_t>(p_.context, 4096)), 4 * kv_blocks_for(p_.context));
      const int64_t fits = int64_t(double(free_b) * 0.9 / double(block_bytes));
      blocks = int32_t(std::clamp<int64_t>(std::min(wanted, fits), 1, INT32_MAX));
    }
    auto store = std::make_unique<CudaKvBlocks>(layout, f32_, blocks);
    kv_ = store.get();
    return store;
  }

  bool can_draw(const TokenDraw& draw) const override {
    return draw.edits.size() <= size_t(kMaxDrawEdits) && p_.vocab <= kMaxDrawVocab;
  }

  void forward(std::span<const SequenceStep> batch) override;

 private:
  void plan_weights();
  void carve_scratch();
  void upload();
  // `plus_one`: the weights as 1 + w (Gemma's norms, where the kernel has no offset).
  const float* upload_vec(const float* v, int64_t n, bool plus_one = false) {
    if (!v) return nullptr;
    float* d = weights_.take<float>(uint64_t(n) * 4);
    std::vector<float> shifted;
    if (plus_one) {
      shifted.assign(v, v + n);
      for (float& x : shifted) x += 1.0f;
      v = shifted.data();
    }
    MLXCPP_CUDA_CHECK(cudaMemcpy(d, v, size_t(n) * 4, cudaMemcpyHostToDevice));
    return d;
  }
  void run_pass(const std::vector<PassSeq>& seqs, bool decode);
  void prepare_params(const std::vector<PassSeq>& seqs, int64_t rows, int64_t width);
  void record_pass(int m, bool decode, bool prepare, int64_t rows_out, const std::vector<Out>& outs,
                   const std::vector<int64_t>& out_row);
  void compute(int m, bool decode, bool prepare, int64_t rows_out);
  void mixture(const DevLayer& L, int m, XIn h, Product product);
  void ensure_buffers(int64_t logit_rows, uint64_t param_bytes, int64_t draws);
  void drop_graphs() {
    for (auto& [key, g] : graphs_) cudaGraphExecDestroy(g);
    graphs_.clear();
  }

  const ModelProgram& p_;
  std::string device_name_, sm_;
  bool f32_ = false;
  std::vector<RopeArgs> ropes_;  // the program's RoPEs, each with its frequencies' offset
  int64_t freqs_per_seq_ = 1;
  Arena weights_, scratch_arena_;
  DevMatrix embed_, lm_head_;
  bool lm_head_tied_ = false;
  const float* final_norm_ = nullptr;
  std::vector<DevLayer> layers_;
  CudaKvBlocks* kv_ = nullptr;
  cudaStream_t stream_ = nullptr;
  MatmulScratch scratch_;
  unsigned* counters_ = nullptr;
  bool split_rows_ = false, whole_rows_ = false;  // the pass's kinds of rows (AttnArgs)
  float *x_ = nullptr, *h_ = nullptr, *tmp_ = nullptr, *qkv_ = nullptr, *attn_ = nullptr, *gu_ = nullptr,
        *act_ = nullptr, *partial_ = nullptr;
  int8_t* xq_ = nullptr;
  float2* xd_ = nullptr;
  float *router_logits_ = nullptr, *expert_weights_ = nullptr, *expert_gu_ = nullptr, *expert_act_ = nullptr,
        *expert_out_ = nullptr;
  int32_t* expert_ids_ = nullptr;
  int8_t* expert_xq_ = nullptr;  // the expert activations quantized for the down products
  float2* expert_xd_ = nullptr;
  unsigned long long* dev_keys_ = nullptr;
  // This pass's inputs in device memory, uploaded from the pinned host_params_:
  // [tokens m | rows m | RoPE frequencies per sequence | block tables per sequence].
  uint8_t *dev_params_ = nullptr, *host_params_ = nullptr;
  uint64_t params_capacity_ = 0;
  uint64_t params_bytes_ = 0;
  const int32_t* tokens_ = nullptr;
  const PassRow* rows_ = nullptr;
  const float* freqs_ = nullptr;
  const int32_t* tables_ = nullptr;
  unsigned long long* host_keys_ = nullptr;  // pinned: each output row's argmax or drawn token, as a key
  DrawParams *dev_draws_ = nullptr, *host_draws_ = nullptr;
  uint32_t *dev_masks_ = nullptr, *host_masks_ = nullptr;  // a token mask per draw slot
  int64_t draws_capacity_ = 0;
  int64_t mask_words() const { return (p_.vocab + 31) / 32; }
  float *logits_ = nullptr, *host_logits_ = nullptr;
  int64_t logits_rows_ = 0;
  // Decode passes' graphs by (rows, block-table width, output kind).
  std::map<std::tuple<int, int64_t, int>, cudaGraphExec_t> graphs_;
  bool graphs_enabled_ = true;
};

void CudaBackend::plan_weights() {
  const ModelProgram& p = p_;
  auto vec = [&](const float* v, int64_t n) {
    if (v) weights_.reserve(uint64_t(n) * 4);
  };
  weights_.reserve(matrix_upload_bytes(to_matrix_plan(p.embed)));
  lm_head_tied_ = p.lm_head.data == p.embed.data;
  if (!lm_head_tied_) weights_.reserve(matrix_upload_bytes(to_matrix_plan(p.lm_head)));
  vec(p.final_norm, p.hidden);
  for (const LayerProgram& l : p.layers) {
    for (const auto& m : l.attention.qkv) weights_.reserve(matrix_upload_bytes(to_matrix_plan(m)));
    weights_.reserve(matrix_upload_bytes(to_matrix_plan(l.attention.o)));
    vec(l.attention.sinks, p.heads);
    if (l.ffn.mixture()) {
      weights_.reserve(matrix_upload_bytes(to_matrix_plan(l.ffn.router)));
      for (const GatedProjections& e : l.ffn.experts) {
        for (const auto& m : e.gate_up) weights_.reserve(matrix_upload_bytes(to_matrix_plan(m)));
        weights_.reserve(matrix_upload_bytes(to_matrix_plan(e.down)));
      }
      weights_.reserve(l.ffn.experts.size() * 3 * sizeof(DevMatrix));
    } else {
      for (const auto& m : l.ffn.dense.gate_up) weights_.reserve(matrix_upload_bytes(to_matrix_plan(m)));
      weights_.reserve(matrix_upload_bytes(to_matrix_plan(l.ffn.dense.down)));
    }
    for (const float* v : {l.attn_norm, l.attn_post_norm, l.ffn_norm, l.ffn_post_norm}) vec(v, p.hidden);
    vec(l.attention.q_norm, p.head_dim);
    vec(l.attention.k_norm, p.head_dim);
  }
}

// Every scratch buffer, carved from the arena: once to measure (null pointers), once to
// hand out.
void CudaBackend::carve_scratch() {
  const ModelProgram& p = p_;
  Arena& a = scratch_arena_;
  const int64_t H = p.heads, KV = p.kv_heads, D = p.head_dim, qkv_cols = (H + 2 * KV) * D;
  const int64_t max_cols = std::max({p.hidden, p.ffn, H * D});
  int64_t max_matrix = p.lm_head.rows * p.lm_head.cols;
  for (const LayerProgram& l : p.layers) {
    max_matrix = std::max({max_matrix, qkv_cols * p.hidden, 2 * p.ffn * p.hidden, l.attention.o.rows * l.attention.o.cols,
                           l.ffn.dense.down.rows * l.ffn.dense.down.cols});
  }
  auto f = [](int64_t n) { return uint64_t(n) * 4; };
  x_ = a.take<float>(f(kChunk * p.hidden));
  h_ = a.take<float>(f(kChunk * p.hidden));
  tmp_ = a.take<float>(f(kChunk * p.hidden));
  qkv_ = a.take<float>(f(kChunk * qkv_cols));
  attn_ = a.take<float>(f(kChunk * H * D));
  gu_ = a.take<float>(f(kChunk * 2 * p.ffn));
  act_ = a.take<float>(f(kChunk * p.ffn));
  partial_ = a.take<float>(f(kMaxSplitRows * H * kMaxAttentionSpans * (D + 2)));
  counters_ = a.take<unsigned>(uint64_t(kChunk * KV) * 4);  // the attention's spans
  int64_t experts = 0, top_k = 0;
  for (const LayerProgram& l : p.layers)
    experts = std::max<int64_t>(experts, int64_t(l.ffn.experts.size())), top_k = std::max<int64_t>(top_k, l.ffn.top_k);
  if (experts > 0) {  // the mixture's router logits, choices and per-slot products
    const int64_t slots = kChunk * top_k;
    router_logits_ = a.take<float>(f(kChunk * experts));
    expert_ids_ = a.take<int32_t>(uint64_t(slots) * 4);
    expert_weights_ = a.take<float>(f(slots));
    expert_gu_ = a.take<float>(f(slots * 2 * p.expert_ffn));
    expert_act_ = a.take<float>(f(slots * p.expert_ffn));
    expert_xq_ = a.take<int8_t>(uint64_t(slots * p.expert_ffn));
    expert_xd_ = a.take<float2>(uint64_t(slots * p.expert_ffn / 32) * 8);
    expert_out_ = a.take<float>(f(slots * p.hidden));
  }
  scratch_.tile_elems = std::max(std::min<int64_t>(max_matrix, int64_t(64) << 20), max_cols);
  scratch_.tile = a.take<void>(uint64_t(scratch_.tile_elems) * (f32_ ? 4 : 2));
  scratch_.x_elems = kChunk * max_cols;
  scratch_.xconv = a.take<void>(uint64_t(scratch_.x_elems) * 2);
  scratch_.xd_blocks = kChunk * max_cols / 32;
  scratch_.xd = a.take<float2>(uint64_t(scratch_.xd_blocks) * 8);
  if (!f32_ && scratch_.tensor_core_rows > 0) {  // --fast-batches' split-K sums, for a whole decode pass
    const auto need = [&](int64_t rows, int64_t cols) {
      scratch_.tc_partial_elems =
          std::max(scratch_.tc_partial_elems, tensor_core_partial_elems(rows, cols, int(kMaxSplitRows)));
    };
    scratch_.tc_partial_elems = 0;
    need(p.lm_head.rows, p.lm_head.cols);
    const auto need_parts = [&](const std::vector<WeightMatrix>& parts) {  // apart, or fused on upload
      int64_t rows = 0;
      for (const auto& m : parts) need(m.rows, m.cols), rows += m.rows;
      if (!parts.empty()) need(rows, parts.front().cols);
    };
    for (const LayerProgram& l : p.layers) {
      need_parts(l.attention.qkv);
      need_parts(l.ffn.dense.gate_up);
      need(l.attention.o.rows, l.attention.o.cols);
      need(l.ffn.dense.down.rows, l.ffn.dense.down.cols);
      if (l.ffn.mixture()) need(l.ffn.router.rows, l.ffn.router.cols);
    }
    scratch_.tc_partial = a.take<float>(f(scratch_.tc_partial_elems));
  }
  xq_ = a.take<int8_t>(uint64_t(kChunk * max_cols));
  xd_ = a.take<float2>(uint64_t(kChunk * max_cols / 32) * 8);
  dev_keys_ = a.take<unsigned long long>(uint64_t(kChunk) * 8);
}

void CudaBackend::upload() {
  const ModelProgram& p = p_;
  embed_ = upload_matrices(weights_, {to_matrix_plan(p.embed)}).front();
  lm_head_ = lm_head_tied_ ? embed_ : upload_matrices(weights_, {to_matrix_plan(p.lm_head)}).front();
  final_norm_ = upload_vec(p.final_norm, p.hidden);
  for (const LayerProgram& l : p.layers) {
    DevLayer d;
    d.attn_norm = upload_vec(l.attn_norm, p.hidden);
    d.attn_post_norm = upload_vec(l.attn_post_norm, p.hidden);
    d.ffn_norm = upload_vec(l.ffn_norm, p.hidden);
    d.ffn_post_norm = upload_vec(l.ffn_post_norm, p.hidden);
    // (The per-head q/k norm kernels scale by w: Gemma 3's 1 + w is formed here.)
    d.qk_norm_whole = l.attention.qk_norm_whole;
    const int64_t q_cols = d.qk_norm_whole ? p.heads * p.head_dim : p.head_dim;
    const int64_t k_cols = d.qk_norm_whole ? p.kv_heads * p.head_dim : p.head_dim;
    d.q_norm = upload_vec(l.attention.q_norm, q_cols, p.norm_weight_offset);
    d.k_norm = upload_vec(l.attention.k_norm, k_cols, p.norm_weight_offset);
    d.qkv = upload_matrices(weights_, plans(l.attention.qkv));
    d.o = upload_matrices(weights_, {to_matrix_plan(l.attention.o)}).front();
    d.sinks = upload_vec(l.attention.sinks, p.heads);
    if (l.ffn.mixture()) {
      d.router = upload_matrices(weights_, {to_matrix_plan(l.ffn.router)}).front();
      std::vector<DevMatrix> experts;
      for (const GatedProjections& e : l.ffn.experts) {
        for (const auto& m : e.gate_up) experts.push_back(upload_matrices(weights_, {to_matrix_plan(m)}).front());
        experts.push_back(upload_matrices(weights_, {to_matrix_plan(e.down)}).front());
      }
      DevMatrix* table = weights_.take<DevMatrix>(experts.size() * sizeof(DevMatrix));
      MLXCPP_CUDA_CHECK(cudaMemcpy(table, experts.data(), experts.size() * sizeof(DevMatrix), cudaMemcpyHostToDevice));
      d.experts = table;
      d.expert_gate_format = experts.front();
      d.expert_down_format = experts[2];
      d.expert_count = int(l.ffn.experts.size());
      d.top_k = l.ffn.top_k;
      d.renormalize = l.ffn.renormalize;
    } else {
      d.gate_up = upload_matrices(weights_, plans(l.ffn.dense.gate_up));
      d.down = upload_matrices(weights_, {to_matrix_plan(l.ffn.dense.down)}).front();
    }
    d.window = l.attention.kind == AttentionKind::SlidingWindow ? l.attention.window : 0;
    d.rope = l.attention.rope;
    d.scale = l.attention.scale;
    d.softcap = l.attention.softcap;
    d.activation = l.ffn.activation;
    d.clamp_limit = l.ffn.clamp_limit;
    layers_.push_back(std::move(d));
  }
}

void CudaBackend::ensure_buffers(int64_t logit_rows, uint64_t param_bytes, int64_t draws) {
  bool moved = false;
  if (logit_rows > logits_rows_) {
    if (logits_) cudaFree(logits_);
    if (host_logits_) cudaFreeHost(host_logits_);
    logits_ = nullptr, host_logits_ = nullptr;
    // + 4: the draw reads a row in groups of 4 floats.
    MLXCPP_CUDA_CHECK(cudaMalloc(&logits_, size_t(logit_rows * p_.vocab + 4) * sizeof(float)));
    MLXCPP_CUDA_CHECK(cudaMallocHost(&host_logits_, size_t(logit_rows * p_.vocab) * sizeof(float)));
    logits_rows_ = logit_rows;
    moved = true;
  }
  if (param_bytes > params_capacity_) {
    if (dev_params_) cudaFree(dev_params_);
    if (host_params_) cudaFreeHost(host_params_);
    params_capacity_ = std::max<uint64_t>(param_bytes, 2 * params_capacity_);
    MLXCPP_CUDA_CHECK(cudaMalloc(&dev_params_, params_capacity_));
    MLXCPP_CUDA_CHECK(cudaMallocHost(&host_params_, params_capacity_));
    moved = true;
  }
  if (draws > draws_capacity_) {
    if (dev_draws_) cudaFree(dev_draws_);
    if (host_draws_) cudaFreeHost(host_draws_);
    if (dev_masks_) cudaFree(dev_masks_);
    if (host_masks_) cudaFreeHost(host_masks_);
    draws_capacity_ = std::max<int64_t>(draws, 2 * draws_capacity_);
    MLXCPP_CUDA_CHECK(cudaMalloc(&dev_draws_, size_t(draws_capacity_) * sizeof(DrawParams)));
    MLXCPP_CUDA_CHECK(cudaMallocHost(&host_draws_, size_t(draws_capacity_) * sizeof(DrawParams)));
    MLXCPP_CUDA_CHECK(cudaMalloc(&dev_masks_, size_t(draws_capacity_ * mask_words()) * 4));
    MLXCPP_CUDA_CHECK(cudaMallocHost(&host_masks_, size_t(draws_capacity_ * mask_words()) * 4));
    moved = true;
  }
  if (moved) drop_graphs();  // they captured the old buffers
}

// Writes the pass's inputs to host_params_ and sets the device pointers into dev_params_.
void CudaBackend::prepare_params(const std::vector<PassSeq>& seqs, int64_t m, int64_t width) {
  const int64_t S = int64_t(seqs.size());
  auto align = [](uint64_t b) { return (b + 15) / 16 * 16; };
  const uint64_t o_rows = align(uint64_t(m) * 4), o_freqs = o_rows + uint64_t(m) * sizeof(PassRow);
  const uint64_t o_tables = align(o_freqs + uint64_t(S * freqs_per_seq_) * 4);
  params_bytes_ = o_tables + uint64_t(S * width) * 4;
  ensure_buffers(0, params_bytes_, 0);
  auto* tokens = reinterpret_cast<int32_t*>(host_params_);
  auto* rows = reinterpret_cast<PassRow*>(host_params_ + o_rows);
  auto* freqs = reinterpret_cast<float*>(host_params_ + o_freqs);
  auto* tables = reinterpret_cast<int32_t*>(host_params_ + o_tables);
  int64_t r = 0;
  split_rows_ = whole_rows_ = false;
  for (int64_t s = 0; s < S; ++s) {
    const PassSeq& q = seqs[size_t(s)];
    const SequenceStep& st = *q.step;
    const bool decode = st.tokens.size() == 1;
    const int64_t start = st.kv->length();
    for (int64_t i = q.first; i < q.first + q.count; ++i, ++r) {
      tokens[r] = st.tokens[size_t(i)];
      const int64_t pos = start + i;
      rows[r] = PassRow{int32_t(pos), int32_t(s * width), int32_t(s * freqs_per_seq_), decode ? decode_chunk(pos) : 0};
    }
    (decode ? split_rows_ : whole_rows_) = true;
    std::copy_n(st.rope_freqs.data(), std::min<int64_t>(int64_t(st.rope_freqs.size()), freqs_per_seq_),
                freqs + s * freqs_per_seq_);
    const auto& blocks = st.kv->blocks();
    std::copy(blocks.begin(), blocks.end(), tables + s * width);
    std::fill(tables + s * width + int64_t(blocks.size()), tables + (s + 1) * width, 0);
  }
  tokens_ = reinterpret_cast<const int32_t*>(dev_params_);
  rows_ = reinterpret_cast<const PassRow*>(dev_params_ + o_rows);
  freqs_ = reinterpret_cast<const float*>(dev_params_ + o_freqs);
  tables_ = reinterpret_cast<const int32_t*>(dev_params_ + o_tables);
}

// The layers over the pass's m rows, then the output head over the last rows_out rows.
void CudaBackend::compute(int m, bool decode, bool prepare, int64_t rows_out) {
  const ModelProgram& p = p_;
  const Product product = decode ? Product::Gemv : Product::Auto;
  // Decode rows leave each kernel quantized for the next dp4a product too, where the row
  // splits into whole blocks of 32.
  const bool quant_x = !f32_ && (decode || m <= kMaxGemvRows);
  int8_t* xq = quant_x && p.hidden % 32 == 0 ? xq_ : nullptr;
  float2* xd = xq ? xd_ : nullptr;
  int8_t* xq_attn = quant_x && p.head_dim % 32 == 0 ? xq_ : nullptr;
  float2* xd_attn = xq_attn ? xd_ : nullptr;
  int8_t* xq_ffn = quant_x && p.ffn % 32 == 0 ? xq_ : nullptr;
  float2* xd_ffn = xq_ffn ? xd_ : nullptr;
  const float eps = p.norm_eps;
  const bool off = p.norm_weight_offset;
  const int64_t H = p.heads, KV = p.kv_heads, D = p.head_dim, qkv_cols = (H + 2 * KV) * D;
  const RopeArgs no_rope{0, false, 1.0, 1.0f, 0, nullptr};  // nothing rotates
  AttnArgs attn{H, KV, D, 1.0f, 0.0f, 0, decode ? kMaxAttentionSpans : 1, counters_};
  attn.split_rows = split_rows_, attn.whole_rows = whole_rows_;
  embed_rows(embed_, tokens_, m, p.embed_scale, x_, stream_);
  rms_norm(x_, layers_[0].attn_norm, h_, m, p.hidden, eps, off, xq, xd, stream_);
  auto group = [&](const std::vector<DevMatrix>& parts, XIn x, float* y, int64_t y_stride) {
    int64_t col = 0;
    for (const DevMatrix& w : parts) {
      linear(w, x, m, y + col, y_stride, f32_, scratch_, stream_, product);
      col += w.rows;
    }
  };
  for (size_t l = 0; l < layers_.size(); ++l) {
    const DevLayer& L = layers_[l];
    const KvLayer kvl = kv_->layer(int64_t(l));
    group(L.qkv, XIn{h_, xq, xd}, qkv_, qkv_cols);
    // Per-head q/k norms happen where the heads are prepared; whole-projection ones here.
    const float* q_norm = L.qk_norm_whole ? nullptr : L.q_norm;
    const float* k_norm = L.qk_norm_whole ? nullptr : L.k_norm;
    if (L.qk_norm_whole) {
      segment_norm(qkv_, m, qkv_cols, H * D, L.q_norm, eps, stream_);
      segment_norm(qkv_ + H * D, m, qkv_cols, KV * D, L.k_norm, eps, stream_);
    }
    attn.scale = L.scale, attn.softcap = L.softcap, attn.window = L.window, attn.sinks = L.sinks;
    attn.prepare = prepare;  // decode: the attention kernel prepares its own heads
    attn.q_norm = q_norm, attn.k_norm = k_norm, attn.eps = eps, attn.rope = L.rope >= 0 ? ropes_[size_t(L.rope)] : no_rope;
    if (!prepare) qkv_prepare(qkv_, m, H, KV, D, q_norm, k_norm, eps, attn.rope, rows_, tables_, freqs_, kvl, stream_);
    attention(qkv_, m, rows_, tables_, freqs_, kvl, attn, partial_, attn_, xq_attn, xd_attn, stream_);
    linear(L.o, XIn{attn_, xq_attn, xd_attn}, m, tmp_, p.hidden, f32_, scratch_, stream_, product);
    residual_norm(x_, tmp_, L.attn_post_norm, L.ffn_norm, h_, m, p.hidden, eps, off, xq, xd, stream_);
    const float* next = l + 1 < layers_.size() ? layers_[l + 1].attn_norm : final_norm_;
    if (L.experts) {
      mixture(L, m, XIn{h_, xq, xd}, product);
      residual_norm_mixture(x_, MixtureDelta{expert_out_, expert_weights_, L.top_k}, tmp_, L.ffn_post_norm, next, h_,
                            m, p.hidden, eps, off, xq, xd, stream_);
    } else {
      group(L.gate_up, XIn{h_, xq, xd}, gu_, 2 * p.ffn);
      act_mul(gu_, m, p.ffn, L.activation, L.clamp_limit, act_, xq_ffn, xd_ffn, stream_);
      linear(L.down, XIn{act_, xq_ffn, xd_ffn}, m, tmp_, p.hidden, f32_, scratch_, stream_, product);
      residual_norm(x_, tmp_, L.ffn_post_norm, next, h_, m, p.hidden, eps, off, xq, xd, stream_);
    }
  }
  if (rows_out == 0) return;
  const int64_t first = m - rows_out;
  // The quantized rows' codes are for all m rows: a tail of them is quantized again by
  // linear() (only when first > 0).
  const XIn last{h_ + first * p.hidden, first == 0 ? xq : nullptr, first == 0 ? xd : nullptr};
  linear(lm_head_, last, int(rows_out), logits_, p.vocab, f32_, scratch_, stream_, decode ? Product::Gemv : Product::Auto);
  if (p.final_softcap > 0) softcap(logits_, rows_out * p.vocab, p.final_softcap, stream_);
}

// A mixture-of-experts feed-forward of m rows: the router's choice of each row's
// experts, then each (row, expert) slot's gated product with the expert's weights (the slots
// read different matrices; int8 activations where the dense products take them too) into
// expert_out_; the weighted sum per row happens in the residual norm that follows.
void CudaBackend::mixture(const DevLayer& L, int m, XIn h, Product product) {
  const int64_t F = p_.expert_ffn, H = p_.hidden;
  const int K = L.top_k, slots = m * K;
  linear(L.router, h, m, router_logits_, L.expert_count, f32_, scratch_, stream_, product);
  moe_route(router_logits_, m, L.expert_count, K, L.renormalize, expert_ids_, expert_weights_, stream_);
  expert_gemv(L.experts, L.expert_gate_format, 0, 2, F, expert_ids_, slots, h, K, expert_gu_, 2 * F, F, stream_);
  const bool quant = h.xq && F % 32 == 0;
  act_mul(expert_gu_, slots, F, L.activation, L.clamp_limit, expert_act_, quant ? expert_xq_ : nullptr,
          quant ? expert_xd_ : nullptr, stream_);
  const XIn act{expert_act_, quant ? expert_xq_ : nullptr, quant ? expert_xd_ : nullptr};
  expert_gemv(L.experts, L.expert_down_format, 2, 1, H, expert_ids_, slots, act, 1, expert_out_, H, 0, stream_);
}

// Upload, compute and the outputs' kernels and downloads, on the stream (or into a graph).
void CudaBackend::record_pass(int m, bool decode, bool prepare, int64_t rows_out, const std::vector<Out>& outs,
                              const std::vector<int64_t>& out_row) {
  MLXCPP_CUDA_CHECK(cudaMemcpyAsync(dev_params_, host_params_, params_bytes_, cudaMemcpyHostToDevice, stream_));
  compute(m, decode, prepare, rows_out);
  bool any_logits = false;
  int64_t draws = 0;
  for (size_t s = 0; s < outs.size(); ++s) {
    const Out o = outs[s];
    float* row = logits_ + out_row[s] * p_.vocab;
    if (o == Out::Argmax) argmax_row(row, p_.vocab, dev_keys_ + out_row[s], stream_);
    if (o == Out::Draw || masked(o)) {  // a draw slot: its parameters, its mask
      if (masked(o))
        MLXCPP_CUDA_CHECK(cudaMemcpyAsync(dev_masks_ + draws * mask_words(), host_masks_ + draws * mask_words(),
                                          size_t(mask_words()) * 4, cudaMemcpyHostToDevice, stream_));
      if (o == Out::ArgmaxMasked) {
        argmax_row(row, p_.vocab, dev_keys_ + out_row[s], stream_, dev_masks_ + draws * mask_words());
      } else {
        MLXCPP_CUDA_CHECK(cudaMemcpyAsync(dev_draws_ + draws, host_draws_ + draws, sizeof(DrawParams),
                                          cudaMemcpyHostToDevice, stream_));
        draw_token(row, p_.vocab, dev_draws_ + draws, dev_keys_ + out_row[s], stream_);
      }
      ++draws;
    }
    any_logits = any_logits || o == Out::Logits;
  }
  MLXCPP_CUDA_CHECK(cudaMemcpyAsync(host_keys_, dev_keys_, size_t(rows_out) * sizeof *host_keys_, cudaMemcpyDeviceToHost,
                                    stream_));
  if (any_logits)
    MLXCPP_CUDA_CHECK(cudaMemcpyAsync(host_logits_, logits_, size_t(rows_out * p_.vocab) * sizeof(float),
                                      cudaMemcpyDeviceToHost, stream_));
}

void CudaBackend::run_pass(const std::vector<PassSeq>& seqs, bool decode) {
  int64_t m = 0, width = 1, rows_out = 0, draws = 0;
  std::vector<Out> outs;
  for (const PassSeq& q : seqs) {
    m += q.count;
    width = std::max<int64_t>(width, int64_t(q.step->kv->blocks().size()));
    Out o = Out::None;
    if (q.outputs) {
      switch (q.step->output) {
        case StepOutput::None: break;
        case StepOutput::Logits:
        case StepOutput::AllLogits: o = Out::Logits; break;
        case StepOutput::Token: {
          const TokenDraw& d = *q.step->draw;
          o = d.is_argmax() ? (d.allowed ? Out::ArgmaxMasked : Out::Argmax) : (d.allowed ? Out::DrawMasked : Out::Draw);
          break;
        }
      }
    }
    if (o == Out::Draw || masked(o)) ++draws;
    outs.push_back(o);
  }
  // Output rows: a decode pass's every row, when any sequence has an output (the head's
  // product is one pass over its weights either way), each sequence's last one its own;
  // a prefill piece its last row, or every row.
  const bool any_out = std::any_of(outs.begin(), outs.end(), [](Out o) { return o != Out::None; });
  if (decode) rows_out = any_out ? m : 0;
  else if (any_out) rows_out = seqs.front().step->output == StepOutput::AllLogits ? m : 1;
  std::vector<int64_t> out_row(seqs.size(), 0);
  for (size_t s = 0, r = 0; s < seqs.size(); ++s) {
    r += size_t(seqs[s].count);
    out_row[s] = decode ? int64_t(r) - 1 : rows_out - 1;
  }
  // Graphs are keyed by the block tables' width: a power of two, so that a sequence
  // growing by a block does not make a new one every time.
  width = int64_t(1) << int(std::ceil(std::log2(double(width))));
  ensure_buffers(std::max<int64_t>(rows_out, 1), 0, draws);
  if (rows_out > kChunk) throw std::logic_error("more output rows than the pass holds");
  prepare_params(seqs, m, width);
  {
    int64_t d = 0;
    for (size_t s = 0; s < seqs.size(); ++s) {
      if (outs[s] != Out::Draw && !masked(outs[s])) continue;
      const TokenDraw& draw = *seqs[s].step->draw;
      if (!pack_draw(draw, host_draws_ + d))
        throw std::runtime_error("a draw with " + std::to_string(draw.edits.size()) + " logit edits (at most " +
                                 std::to_string(kMaxDrawEdits) + ")");
      if (masked(outs[s])) {
        write_draw_mask(draw, mask_words(), host_masks_ + d * mask_words());
        host_draws_[d].allowed = dev_masks_ + d * mask_words();
      }
      ++d;
    }
  }
  // Decode rows from distinct sequences: the attention kernel prepares each row's heads
  // and stores its key and value (no other row reads them).
  const bool prepare = decode && std::all_of(seqs.begin(), seqs.end(), [](const PassSeq& q) { return q.count == 1; });
  const bool same_out = std::all_of(outs.begin(), outs.end(), [&](Out o) { return o == outs.front(); });
  if (graphs_enabled_ && prepare && same_out && outs.front() != Out::None) {
    cudaGraphExec_t& exec = graphs_[{int(m), width, int(outs.front())}];
    if (!exec) {
      if (graphs_.size() > 64) {  // batch shapes come and go: start over rather than grow
        drop_graphs();
        return run_pass(seqs, decode);
      }
      cudaGraph_t g = nullptr;
      MLXCPP_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      try {
        record_pass(int(m), decode, prepare, rows_out, outs, out_row);
      } catch (...) {
        cudaStreamEndCapture(stream_, &g);
        if (g) cudaGraphDestroy(g);
        graphs_.erase({int(m), width, int(outs.front())});
        throw;
      }
      MLXCPP_CUDA_CHECK(cudaStreamEndCapture(stream_, &g));
      const cudaError_t err = cudaGraphInstantiate(&exec, g, 0);
      cudaGraphDestroy(g);
      if (err != cudaSuccess) graphs_.erase({int(m), width, int(outs.front())});
      MLXCPP_CUDA_CHECK(err);
    }
    MLXCPP_CUDA_CHECK(cudaGraphLaunch(exec, stream_));
  } else {
    record_pass(int(m), decode, prepare, rows_out, outs, out_row);
  }
  MLXCPP_CUDA_CHECK(cudaStreamSynchronize(stream_));
  // Results to the steps.
  for (size_t s = 0; s < seqs.size(); ++s) {
    const SequenceStep& st = *seqs[s].step;
    const int64_t row = out_row[s];
    if (drawn(outs[s])) {
      *st.token = int32_t(0xFFFFFFFFu - uint32_t(host_keys_[row] & 0xFFFFFFFFu));
    } else if (outs[s] == Out::Logits) {
      if (st.output == StepOutput::AllLogits && !decode)
        std::memcpy(st.logits + seqs[s].first * p_.vocab, host_logits_, size_t(rows_out * p_.vocab) * sizeof(float));
      else if (st.output == StepOutput::AllLogits)
        std::memcpy(st.logits, host_logits_ + (row + 1 - seqs[s].count) * p_.vocab,
                    size_t(seqs[s].count * p_.vocab) * sizeof(float));
      else std::memcpy(st.logits, host_logits_ + row * p_.vocab, size_t(p_.vocab) * sizeof(float));
    }
  }
}

void CudaBackend::forward(std::span<const SequenceStep> batch) {
  if (!kv_) throw std::logic_error("CUDA forward before its KV store was made");
  for (const SequenceStep& st : batch)
    if (&st.kv->pool()->store() != kv_) throw std::runtime_error("a KV sequence of another backend");
  // Decode passes: the sequences with at most kMaxGemvRows tokens, kMaxSplitRows rows at
  // most (a pass's attention partials) and kChunk at most.
  std::vector<PassSeq> pass;
  int64_t rows = 0;
  auto flush = [&](bool decode) {
    if (!pass.empty()) run_pass(pass, decode);
    pass.clear();
    rows = 0;
  };
  // A decode pass of rows that want outputs and one of rows that do not (prompt ends of a
  // few tokens need none): each pass's head product covers all of its rows or none.
  for (const bool with_out : {true, false}) {
    for (const SequenceStep& st : batch) {
      const int64_t n = int64_t(st.tokens.size());
      if (n > kMaxGemvRows || (st.output != StepOutput::None) != with_out) continue;
      if (rows + n > kMaxSplitRows) flush(true);
      pass.push_back({&st, 0, n, with_out});
      rows += n;
    }
    flush(true);
  }
  // Prefill steps, each alone, in pieces of kChunk rows counted from its first token.
  for (const SequenceStep& st : batch) {
    const int64_t n = int64_t(st.tokens.size());
    if (n <= kMaxGemvRows) continue;
    for (int64_t first = 0; first < n; first += kChunk) {
      const int64_t count = std::min(kChunk, n - first);
      const bool last = first + count == n;
      const bool outputs = st.output == StepOutput::AllLogits || (last && st.output != StepOutput::None);
      pass.push_back({&st, first, count, outputs});
      flush(false);
    }
  }
}

}  // namespace
}  // namespace mlxcpp::cuda

namespace mlxcpp {

std::string cuda_unsupported(const ModelProgram& p) {
  if (!cuda::attention_supports_head_dim(p.head_dim)) return "head_dim " + std::to_string(p.head_dim) + " is over 256";
  if (p.heads % p.kv_heads != 0 || p.heads / p.kv_heads > 8) return "more than 8 query heads per KV head";
  for (const LayerProgram& l : p.layers) {
    if (l.ffn.top_k > cuda::kMaxExpertsPerToken)
      return "more than " + std::to_string(cuda::kMaxExpertsPerToken) + " experts per token";
    if (int64_t(l.ffn.experts.size()) > cuda::kMaxExperts)
      return "more than " + std::to_string(cuda::kMaxExperts) + " experts in a layer";
    for (const GatedProjections& e : l.ffn.experts)
      if (e.gate_up.size() != 2) return "experts with a fused gate_up projection";
  }
  return "";
}

std::unique_ptr<Backend> make_cuda_backend(const ModelProgram& program, const CudaOptions& options) {
  return std::make_unique<cuda::CudaBackend>(program, options);
}

}  // namespace mlxcpp
