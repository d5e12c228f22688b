// The decoder on one CUDA device: weights uploaded once into one device allocation (4-bit
// affine repacked for dp4a), activations and scratch sized for a 512-token chunk, the KV
// cache in device memory, and each decode step replayed from a CUDA graph captured for
// its cache (the step's token, position and RoPE frequencies are read from device memory,
// so one capture serves every step until the cache is reallocated).
#include "backend/cuda/cublas_loader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/cuda/kernels.cuh"
#include "backend/cuda/upload.cuh"
#include "backend/device_decoder.h"

namespace mlxcpp::cuda {
namespace {

constexpr int64_t kChunk = 512;  // rows per pass; longer inputs run in several passes

class CudaKv final : public DeviceKv {
 public:
  CudaKv(int64_t layers, int64_t kv_heads, int64_t head_dim, int64_t capacity, bool f32)
      : layers_(layers), heads_(kv_heads), dim_(head_dim), f32_(f32) {
    allocate(capacity, 0);
  }
  ~CudaKv() override {
    drop_graph();
    if (buf_) cudaFree(buf_);
  }
  void reserve(int64_t capacity, int64_t keep) override {
    if (capacity > capacity_) allocate(capacity, keep);
  }
  uint64_t bytes() const override { return plane_bytes(capacity_) * uint64_t(2 * layers_ * heads_); }

  KvLayer layer(int64_t l) const {
    const uint64_t head = plane_bytes(capacity_);
    uint8_t* base = static_cast<uint8_t*>(buf_) + head * uint64_t(2 * l * heads_);
    return KvLayer{base, base + head * uint64_t(heads_), capacity_, f32_};
  }
  int64_t capacity() const { return capacity_; }

  // The captured decode steps, one per Output, and the logits buffer generation they
  // write into.
  cudaGraphExec_t graph[3] = {nullptr, nullptr, nullptr};
  int graph_generation = -1;
  void drop_graph() {
    for (auto& g : graph) {
      if (g) cudaGraphExecDestroy(g);
      g = nullptr;
    }
  }

 private:
  uint64_t plane_bytes(int64_t cap) const { return uint64_t(cap * dim_) * (f32_ ? 4u : 2u); }
  void allocate(int64_t capacity, int64_t keep) {
    const uint64_t planes = uint64_t(2 * layers_ * heads_);
    const uint64_t need = plane_bytes(capacity) * planes;
    size_t free_b = 0, total_b = 0;
    MLXCPP_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    if (need > free_b)
      throw std::runtime_error("not enough GPU memory for a KV cache of " + std::to_string(capacity) +
                               " positions: it needs " + gib(need) + ", the GPU has " + gib(free_b) + " free");
    void* fresh = nullptr;
    MLXCPP_CUDA_CHECK(cudaMalloc(&fresh, need));
    if (buf_ && keep > 0)  // every head's plane keeps its first `keep` positions
      MLXCPP_CUDA_CHECK(cudaMemcpy2D(fresh, plane_bytes(capacity), buf_, plane_bytes(capacity_), plane_bytes(keep),
                                     planes, cudaMemcpyDeviceToDevice));
    if (buf_) cudaFree(buf_);
    buf_ = fresh;
    capacity_ = capacity;
    drop_graph();
  }

  int64_t layers_, heads_, dim_;
  bool f32_;
  void* buf_ = nullptr;
  int64_t capacity_ = 0;
};

// What a pass hands back: the logits, their argmax, or the token of a draw.
enum class Output { Logits = 0, Argmax = 1, Draw = 2 };

struct DevLayer {
  const float *input_norm = nullptr, *post_attn_norm = nullptr, *pre_ffn_norm = nullptr, *post_ffn_norm = nullptr;
  const float *q_norm = nullptr, *k_norm = nullptr;
  std::vector<DevMatrix> qkv, gate_up;  // one merged matrix when the parts share a format
  DevMatrix o, down;
  bool sliding = false;
};

class CudaDecoder final : public DeviceDecoder {
 public:
  explicit CudaDecoder(const DecoderPlan& p) : p_(p) {
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
    check_shapes();
    plan_memory();
    upload();
    MLXCPP_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    if (blas::create(&scratch_.cublas) != CUBLAS_STATUS_SUCCESS) throw std::runtime_error("cuBLAS could not start");
    MLXCPP_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  ~CudaDecoder() override {
    if (scratch_.cublas) blas::destroy(scratch_.cublas);
    if (stream_) cudaStreamDestroy(stream_);
    if (host_logits_) cudaFreeHost(host_logits_);
    if (host_params_) cudaFreeHost(host_params_);
    if (host_key_) cudaFreeHost(host_key_);
    if (host_draw_) cudaFreeHost(host_draw_);
    if (logits_) cudaFree(logits_);
  }

  std::unique_ptr<DeviceKv> new_kv(int64_t capacity) override {
    return std::make_unique<CudaKv>(p_.layers.size(), p_.kv_heads, p_.head_dim, std::max<int64_t>(capacity, 1), p_.f32);
  }

  std::string describe() const override {
    return device_name_ + " (sm_" + sm_ + "): " + gib(weight_bytes_) + " of weights, " + gib(scratch_bytes_) + " of scratch";
  }
  uint64_t resident_bytes() const override { return weight_bytes_ + scratch_bytes_; }

  bool can_draw(const TokenDraw& draw) const override {
    return draw.edits.size() <= size_t(kMaxDrawEdits) && p_.vocab <= kMaxDrawVocab;
  }

  void forward(const int32_t* tokens, int64_t n, int64_t start, const float* inv_freq, DeviceKv& kv_base, float* logits,
               bool all_logits, const TokenDraw* draw, int32_t* token) override {
    auto& kv = static_cast<CudaKv&>(kv_base);
    if (start + n > kv.capacity())
      throw std::runtime_error("context overflow: " + std::to_string(start + n) + " tokens do not fit the cache of " +
                               std::to_string(kv.capacity()));
    std::memcpy(host_params_ + 1, inv_freq, size_t(p_.rope_dims / 2) * sizeof(float));
    Output out = Output::Logits;
    if (draw && !all_logits) {
      out = draw->is_argmax() ? Output::Argmax : Output::Draw;
      if (out == Output::Draw && !pack_draw(*draw, host_draw_))
        throw std::runtime_error("a draw with " + std::to_string(draw->edits.size()) + " logit edits (at most " +
                                 std::to_string(kMaxDrawEdits) + ")");
    }
    for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
      const int64_t m = std::min(kChunk, n - c0);
      const bool last = c0 + m == n;
      const int64_t rows_out = all_logits ? m : (last ? 1 : 0);
      // The previous pass's upload must have left the pinned buffer before it is rewritten.
      if (c0 > 0) MLXCPP_CUDA_CHECK(cudaStreamSynchronize(stream_));
      reinterpret_cast<int32_t*>(host_params_)[0] = int32_t(start + c0);
      std::memcpy(host_params_ + params_tokens_, tokens + c0, size_t(m) * sizeof(int32_t));
      if (rows_out > 0) ensure_logits(rows_out);
      if (m == 1 && rows_out == 1) {
        run_graph(kv, out);  // the uploads and downloads are part of the graph
      } else {
        upload_params(m);
        run_pass(int(m), rows_out, kv);
        if (rows_out > 0) download(rows_out, out);
      }
      if (rows_out == 0) continue;
      MLXCPP_CUDA_CHECK(cudaStreamSynchronize(stream_));
      if (out != Output::Logits) {
        *token = int32_t(0xFFFFFFFFu - uint32_t(*host_key_ & 0xFFFFFFFFu));
      } else {
        float* dst = logits + (all_logits ? c0 * p_.vocab : 0);
        std::memcpy(dst, host_logits_, size_t(rows_out * p_.vocab) * sizeof(float));
      }
    }
    MLXCPP_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

 private:
  void check_shapes() const {
    if (!attention_supports_head_dim(p_.head_dim))
      throw std::runtime_error("head_dim " + std::to_string(p_.head_dim) + " is not supported by the CUDA backend");
    if (p_.heads % p_.kv_heads != 0 || p_.heads / p_.kv_heads > 8)
      throw std::runtime_error("the CUDA backend supports up to 8 query heads per KV head");
  }

  void plan_memory() {
    const DecoderPlan& p = p_;
    auto vec = [&](const float* v, int64_t n) {
      if (v) weights_.reserve(uint64_t(n) * 4);
    };
    weights_.reserve(matrix_upload_bytes(p.embed));
    lm_head_tied_ = p.lm_head.data == p.embed.data;
    if (!lm_head_tied_) weights_.reserve(matrix_upload_bytes(p.lm_head));
    vec(p.final_norm, p.hidden);
    int64_t max_cols = std::max({p.hidden, p.ffn, p.heads * p.head_dim});
    int64_t max_matrix = 0;
    auto note = [&](const MatrixPlan& m) { max_matrix = std::max(max_matrix, m.rows * m.cols); };
    for (const LayerPlan& l : p.layers) {
      for (const auto& m : l.qkv) weights_.reserve(matrix_upload_bytes(m)), note(m);
      for (const auto& m : l.gate_up) weights_.reserve(matrix_upload_bytes(m)), note(m);
      weights_.reserve(matrix_upload_bytes(l.o)), note(l.o);
      weights_.reserve(matrix_upload_bytes(l.down)), note(l.down);
      for (const float* v : {l.input_norm, l.post_attn_norm, l.pre_ffn_norm, l.post_ffn_norm}) vec(v, p.hidden);
      vec(l.q_norm, p.head_dim);
      vec(l.k_norm, p.head_dim);
      if (l.qkv.size() > 1) max_matrix = std::max<int64_t>(max_matrix, (p.heads + 2 * p.kv_heads) * p.head_dim * p.hidden);
      if (l.gate_up.size() > 1) max_matrix = std::max<int64_t>(max_matrix, 2 * p.ffn * p.hidden);
    }
    note(p.lm_head);
    weight_bytes_ = weights_.size();

    const int64_t qkv_cols = (p.heads + 2 * p.kv_heads) * p.head_dim;
    scratch_.tile_elems = std::min<int64_t>(max_matrix, int64_t(64) << 20);
    scratch_.tile_elems = std::max(scratch_.tile_elems, max_cols);
    scratch_.x_elems = kChunk * max_cols;
    auto f = [](int64_t n) { return uint64_t(n) * 4; };
    const uint64_t act = 3 * f(kChunk * p.hidden) + f(kChunk * qkv_cols) + f(kChunk * p.heads * p.head_dim) +
                         f(kChunk * 2 * p.ffn) + f(kChunk * p.ffn) + f(kChunk * p.heads * (p.head_dim + 2));
    // Every take() below, each rounded up to the arena's alignment (19 of them).
    scratch_bytes_ = act + uint64_t(scratch_.tile_elems) * (p.f32 ? 4 : 2) + uint64_t(scratch_.x_elems) * 2 +
                     uint64_t(kMaxGemvRows * max_cols / 32) * 8 +
                     uint64_t(kMaxGemvRows * max_cols) + uint64_t(kMaxGemvRows * max_cols / 32) * 8 +
                     uint64_t(kChunk * p.kv_heads) * 4 + uint64_t(1 + p.rope_dims / 2 + kChunk) * 4 + 8 +
                     sizeof(DrawParams) + 19 * kAlign;
    size_t free_b = 0, total_b = 0;
    MLXCPP_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const uint64_t need = weight_bytes_ + scratch_bytes_;
    if (need > free_b)
      throw std::runtime_error("not enough GPU memory on " + device_name_ + ": the model needs " + gib(need) + " (" +
                               gib(weight_bytes_) + " of weights, " + gib(scratch_bytes_) + " of scratch), the GPU has " +
                               gib(free_b) + " free of " + gib(total_b));
    weights_.allocate();
    scratch_arena_.reserve(scratch_bytes_);
    scratch_arena_.allocate();
    x_ = scratch_arena_.take<float>(f(kChunk * p.hidden));
    h_ = scratch_arena_.take<float>(f(kChunk * p.hidden));
    tmp_ = scratch_arena_.take<float>(f(kChunk * p.hidden));
    qkv_ = scratch_arena_.take<float>(f(kChunk * qkv_cols));
    attn_ = scratch_arena_.take<float>(f(kChunk * p.heads * p.head_dim));
    gu_ = scratch_arena_.take<float>(f(kChunk * 2 * p.ffn));
    act_ = scratch_arena_.take<float>(f(kChunk * p.ffn));
    partial_ = scratch_arena_.take<float>(f(kChunk * p.heads * (p.head_dim + 2)));
    counters_ = scratch_arena_.take<unsigned>(uint64_t(kChunk * p.kv_heads) * 4);  // the attention's spans
    MLXCPP_CUDA_CHECK(cudaMemset(counters_, 0, size_t(kChunk * p.kv_heads) * 4));
    scratch_.tile = scratch_arena_.take<void>(uint64_t(scratch_.tile_elems) * (p.f32 ? 4 : 2));
    scratch_.xconv = scratch_arena_.take<void>(uint64_t(scratch_.x_elems) * 2);
    scratch_.xd_blocks = kMaxGemvRows * max_cols / 32;
    scratch_.xd = scratch_arena_.take<float2>(uint64_t(scratch_.xd_blocks) * 8);
    xq_ = scratch_arena_.take<int8_t>(uint64_t(kMaxGemvRows * max_cols));
    xd_ = scratch_arena_.take<float2>(uint64_t(kMaxGemvRows * max_cols / 32) * 8);
    params_tokens_ = 1 + p.rope_dims / 2;
    dev_params_ = scratch_arena_.take<int32_t>(uint64_t(params_tokens_ + kChunk) * 4);
    dev_argmax_ = scratch_arena_.take<unsigned long long>(8);
    MLXCPP_CUDA_CHECK(cudaMallocHost(&host_params_, size_t(params_tokens_ + kChunk) * 4));
    MLXCPP_CUDA_CHECK(cudaMallocHost(&host_key_, sizeof *host_key_));
    dev_draw_ = scratch_arena_.take<DrawParams>(sizeof(DrawParams));
    MLXCPP_CUDA_CHECK(cudaMallocHost(&host_draw_, sizeof(DrawParams)));
  }

  const float* upload_vec(const float* v, int64_t n) {
    if (!v) return nullptr;
    float* d = weights_.take<float>(uint64_t(n) * 4);
    MLXCPP_CUDA_CHECK(cudaMemcpy(d, v, size_t(n) * 4, cudaMemcpyHostToDevice));
    return d;
  }

  void upload() {
    const DecoderPlan& p = p_;
    embed_ = upload_matrices(weights_, {p.embed}).front();
    lm_head_ = lm_head_tied_ ? embed_ : upload_matrices(weights_, {p.lm_head}).front();
    final_norm_ = upload_vec(p.final_norm, p.hidden);
    for (const LayerPlan& l : p.layers) {
      DevLayer d;
      d.input_norm = upload_vec(l.input_norm, p.hidden);
      d.post_attn_norm = upload_vec(l.post_attn_norm, p.hidden);
      d.pre_ffn_norm = upload_vec(l.pre_ffn_norm, p.hidden);
      d.post_ffn_norm = upload_vec(l.post_ffn_norm, p.hidden);
      d.q_norm = upload_vec(l.q_norm, p.head_dim);
      d.k_norm = upload_vec(l.k_norm, p.head_dim);
      d.qkv = upload_matrices(weights_, l.qkv);
      d.gate_up = upload_matrices(weights_, l.gate_up);
      d.o = upload_matrices(weights_, {l.o}).front();
      d.down = upload_matrices(weights_, {l.down}).front();
      d.sliding = l.sliding;
      layers_.push_back(std::move(d));
    }
  }

  void ensure_logits(int64_t rows) {
    if (rows <= logits_rows_) return;
    if (logits_) cudaFree(logits_);
    if (host_logits_) cudaFreeHost(host_logits_);
    logits_ = nullptr, host_logits_ = nullptr;
    // + 4: the draw reads the last row in groups of 4 floats.
    MLXCPP_CUDA_CHECK(cudaMalloc(&logits_, size_t(rows * p_.vocab + 4) * sizeof(float)));
    MLXCPP_CUDA_CHECK(cudaMallocHost(&host_logits_, size_t(rows * p_.vocab) * sizeof(float)));
    logits_rows_ = rows;
    ++logits_generation_;  // graphs captured before write into the old buffer
  }

  // Parts of a group write their rows side by side into one output row.
  void linear_group(const std::vector<DevMatrix>& parts, XIn x, int n, float* y, int64_t y_stride) {
    int64_t off = 0;
    for (const DevMatrix& m : parts) {
      linear(m, x, n, y + off, y_stride, p_.f32, scratch_, stream_);
      off += m.rows;
    }
  }

  // One pass of n ≤ kChunk tokens; the last rows_out rows' logits land in logits_.
  void run_pass(int n, int64_t rows_out, CudaKv& kv) {
    const DecoderPlan& p = p_;
    // Decode rows leave each kernel quantized for the next dp4a product too, where the
    // row splits into whole blocks of 32.
    const bool quant_x = !p.f32 && n <= kMaxGemvRows;
    int8_t* xq = quant_x && p.hidden % 32 == 0 ? xq_ : nullptr;
    float2* xd = xq ? xd_ : nullptr;
    int8_t* xq_attn = quant_x && p.head_dim % 32 == 0 ? xq_ : nullptr;
    float2* xd_attn = xq_attn ? xd_ : nullptr;
    int8_t* xq_ffn = quant_x && p.ffn % 32 == 0 ? xq_ : nullptr;
    float2* xd_ffn = xq_ffn ? xd_ : nullptr;
    const float eps = p.norm_eps;
    const bool off = p.norm_weight_offset;
    const int32_t* start = dev_params_;
    const float* inv_freq = reinterpret_cast<const float*>(dev_params_ + 1);
    const int32_t* tokens = dev_params_ + params_tokens_;
    const int64_t H = p.heads, KV = p.kv_heads, D = p.head_dim, qkv_cols = (H + 2 * KV) * D;
    const RopeArgs rope{p.rope_dims, p.rope_traditional, p.position_scale, p.rope_mscale, inv_freq};
    AttnArgs attn{H, KV, D, p.query_scale > 0 ? p.query_scale : 1.0f / std::sqrt(float(D)), p.attn_softcap, 0, 1,
                  kv.capacity(), counters_};
    if (n <= kMaxGemvRows) {
      attn.chunk = std::max<int64_t>(16, (kv.capacity() + kMaxAttentionSpans - 1) / kMaxAttentionSpans);
      attn.splits = int((kv.capacity() + attn.chunk - 1) / attn.chunk);
    }
    embed_rows(embed_, tokens, n, p.embed_scale ? std::sqrt(float(p.hidden)) : 1.0f, x_, stream_);
    rms_norm(x_, layers_[0].input_norm, h_, n, p.hidden, eps, off, xq, xd, stream_);
    for (size_t l = 0; l < layers_.size(); ++l) {
      const DevLayer& L = layers_[l];
      const KvLayer kvl = kv.layer(int64_t(l));
      linear_group(L.qkv, XIn{h_, xq, xd}, n, qkv_, qkv_cols);
      attn.window = L.sliding ? p.sliding_window : 0;
      attn.prepare = n == 1;  // decode: the attention kernel prepares its own heads
      attn.q_norm = L.q_norm, attn.k_norm = L.k_norm, attn.eps = eps, attn.rope = rope;
      if (!attn.prepare) qkv_prepare(qkv_, n, H, KV, D, L.q_norm, L.k_norm, eps, rope, start, kvl, stream_);
      attention(qkv_, n, start, kvl, attn, partial_, attn_, xq_attn, xd_attn, stream_);
      linear(L.o, XIn{attn_, xq_attn, xd_attn}, n, tmp_, p.hidden, p.f32, scratch_, stream_);
      residual_norm(x_, tmp_, p.sandwich_norms ? L.post_attn_norm : nullptr,
                    p.sandwich_norms ? L.pre_ffn_norm : L.post_attn_norm, h_, n, p.hidden, eps, off, xq, xd, stream_);
      linear_group(L.gate_up, XIn{h_, xq, xd}, n, gu_, 2 * p.ffn);
      act_mul(gu_, n, p.ffn, Act(int(p.activation)), act_, xq_ffn, xd_ffn, stream_);
      const float* next = l + 1 < layers_.size() ? layers_[l + 1].input_norm : final_norm_;
      linear(L.down, XIn{act_, xq_ffn, xd_ffn}, n, tmp_, p.hidden, p.f32, scratch_, stream_);
      residual_norm(x_, tmp_, p.sandwich_norms ? L.post_ffn_norm : nullptr, next, h_, n, p.hidden, eps, off, xq, xd,
                    stream_);
    }
    if (rows_out == 0) return;
    const int64_t first = n - rows_out;
    // The quantized rows' second codes sit after all n rows' first ones, so a subset of the
    // rows is quantized again by linear() (only when n > 1).
    const XIn last{h_ + first * p.hidden, first == 0 ? xq : nullptr, first == 0 ? xd : nullptr};
    linear(lm_head_, last, int(rows_out), logits_, p.vocab, p.f32, scratch_, stream_);
    if (p.final_softcap > 0) softcap(logits_, rows_out * p.vocab, p.final_softcap, stream_);
  }

  // One pass's inputs, [start | inv_freq | tokens], from the pinned buffer.
  void upload_params(int64_t m) {
    MLXCPP_CUDA_CHECK(cudaMemcpyAsync(dev_params_, host_params_, size_t(params_tokens_ + m) * 4, cudaMemcpyHostToDevice,
                                      stream_));
  }

  // The last rows' logits to host_logits_, or the last row's argmax or drawn token (the
  // draw's parameters uploaded from host_draw_) to host_key_.
  void download(int64_t rows_out, Output out) {
    if (out != Output::Logits) {
      if (out == Output::Argmax) {
        argmax_row(logits_, p_.vocab, dev_argmax_, stream_);
      } else {
        MLXCPP_CUDA_CHECK(cudaMemcpyAsync(dev_draw_, host_draw_, sizeof(DrawParams), cudaMemcpyHostToDevice, stream_));
        draw_token(logits_, p_.vocab, dev_draw_, dev_argmax_, stream_);
      }
      MLXCPP_CUDA_CHECK(cudaMemcpyAsync(host_key_, dev_argmax_, sizeof *host_key_, cudaMemcpyDeviceToHost, stream_));
    } else {
      MLXCPP_CUDA_CHECK(cudaMemcpyAsync(host_logits_, logits_, size_t(rows_out * p_.vocab) * sizeof(float),
                                        cudaMemcpyDeviceToHost, stream_));
    }
  }

  // A decode step, whole: upload, pass, download.
  void run_graph(CudaKv& kv, Output out) {
    if (kv.graph_generation != logits_generation_) kv.drop_graph();
    cudaGraphExec_t& exec = kv.graph[int(out)];
    if (!exec) {
      cudaGraph_t g = nullptr;
      MLXCPP_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      try {
        upload_params(1);
        run_pass(1, 1, kv);
        download(1, out);
      } catch (...) {
        cudaStreamEndCapture(stream_, &g);
        if (g) cudaGraphDestroy(g);
        throw;
      }
      MLXCPP_CUDA_CHECK(cudaStreamEndCapture(stream_, &g));
      const cudaError_t err = cudaGraphInstantiate(&exec, g, 0);
      cudaGraphDestroy(g);
      MLXCPP_CUDA_CHECK(err);
      kv.graph_generation = logits_generation_;
    }
    MLXCPP_CUDA_CHECK(cudaGraphLaunch(exec, stream_));
  }

  DecoderPlan p_;
  std::string device_name_, sm_;
  Arena weights_, scratch_arena_;
  uint64_t weight_bytes_ = 0, scratch_bytes_ = 0;
  DevMatrix embed_, lm_head_;
  bool lm_head_tied_ = false;
  const float* final_norm_ = nullptr;
  std::vector<DevLayer> layers_;
  cudaStream_t stream_ = nullptr;
  MatmulScratch scratch_;
  unsigned* counters_ = nullptr;
  float *x_ = nullptr, *h_ = nullptr, *tmp_ = nullptr, *qkv_ = nullptr, *attn_ = nullptr, *gu_ = nullptr,
        *act_ = nullptr, *partial_ = nullptr;
  int8_t* xq_ = nullptr;
  float2* xd_ = nullptr;
  int32_t* dev_params_ = nullptr;
  unsigned long long* dev_argmax_ = nullptr;
  unsigned long long* host_key_ = nullptr;  // pinned: the argmax or drawn token, as a key
  DrawParams* dev_draw_ = nullptr;
  DrawParams* host_draw_ = nullptr;  // pinned
  int32_t* host_params_ = nullptr;
  int64_t params_tokens_ = 0;
  float* logits_ = nullptr;
  float* host_logits_ = nullptr;
  int64_t logits_rows_ = 0;
  int logits_generation_ = 0;
};

}  // namespace
}  // namespace mlxcpp::cuda

namespace mlxcpp {

std::unique_ptr<DeviceDecoder> make_cuda_decoder(const DecoderPlan& plan) {
  return std::make_unique<cuda::CudaDecoder>(plan);
}

}  // namespace mlxcpp
