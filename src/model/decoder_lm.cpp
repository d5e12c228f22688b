#include "model/decoder_lm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/fast_math.h"
#include "backend/cpu/ops.h"
#include "runtime/sampler.h"
#include "util/error.h"

namespace mlxcpp {

std::unique_ptr<DecoderLM> DecoderLM::load(const std::filesystem::path& dir, int threads, Precision precision,
                                           Device device) {
  ModelConfig cfg = load_model_config(dir);
  // The CPU streams every weight once per token: from huge pages (util/mapped_file.h). The
  // GPU reads them once to upload them: from the page cache, dropped afterwards.
  WeightSet ws = WeightSet::open(dir, device == Device::Cpu ? Residency::HugePages : Residency::PageCache);
  std::unique_ptr<DecoderLM> m(new DecoderLM(std::move(cfg), std::move(ws), threads, precision));
  if (device == Device::Cuda) {
    try {
      m->gpu_ = make_cuda_decoder(m->plan());
      // The weights now live in GPU memory: the host copies leave the process's RSS (the
      // norms and biases the plan pointed at were copied into their own vectors).
      for (const auto& f : m->weights_.files()) f->release_resident();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail("{}: cannot run on CUDA: {}", dir.string(), e.what());
    }
  }
  return m;
}

DecoderLM::~DecoderLM() = default;

namespace {

const float* opt(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

}  // namespace

DecoderPlan DecoderLM::plan() const {
  const ModelConfig& c = cfg_;
  DecoderPlan p;
  p.hidden = c.hidden_size;
  p.heads = c.num_attention_heads;
  p.kv_heads = c.num_key_value_heads;
  p.head_dim = c.head_dim;
  p.ffn = c.intermediate_size;
  p.vocab = c.vocab_size;
  p.context = c.context_length();
  p.norm_eps = float(c.rms_norm_eps);
  p.norm_weight_offset = traits_.norm_weight_offset;
  p.embed_scale = traits_.embed_scale;
  p.sandwich_norms = traits_.sandwich_norms;
  p.activation = PlanActivation(int(traits_.activation));
  p.attn_softcap = traits_.attn_softcap;
  p.final_softcap = traits_.final_softcap;
  p.query_scale = traits_.query_scale;
  p.sliding_window = c.sliding_window.value_or(0);
  p.rope_dims = rope_.dims();
  p.rope_traditional = rope_.traditional();
  p.position_scale = rope_.position_scale();
  p.rope_mscale = rope_.mscale();
  p.f32 = precision_ == Precision::F32;
  p.embed = to_matrix_plan(embed_);
  p.lm_head = to_matrix_plan(lm_head_);
  p.final_norm = final_norm_.data();
  for (const Layer& L : layers_) {
    LayerPlan l;
    l.input_norm = opt(L.input_norm);
    l.post_attn_norm = opt(L.post_attn_norm);
    l.pre_ffn_norm = opt(L.pre_ffn_norm);
    l.post_ffn_norm = opt(L.post_ffn_norm);
    l.q_norm = opt(L.q_norm);
    l.k_norm = opt(L.k_norm);
    if (traits_.fused_qkv) l.qkv = {to_matrix_plan(L.qkv)};
    else l.qkv = {to_matrix_plan(L.q), to_matrix_plan(L.k), to_matrix_plan(L.v)};
    if (traits_.fused_gate_up) l.gate_up = {to_matrix_plan(L.gate_up)};
    else l.gate_up = {to_matrix_plan(L.gate), to_matrix_plan(L.up)};
    l.o = to_matrix_plan(L.o);
    l.down = to_matrix_plan(L.down);
    l.sliding = L.sliding;
    p.layers.push_back(std::move(l));
  }
  return p;
}

DecoderLM::DecoderLM(ModelConfig cfg, WeightSet ws, int threads, Precision precision)
    : cfg_(std::move(cfg)), precision_(precision), traits_(traits_for(cfg_)), weights_(std::move(ws)), pool_(threads), rope_(cfg_) {
  const ModelConfig& c = cfg_;
  const int64_t h = c.hidden_size, hd = c.head_dim, nq = c.num_attention_heads * hd, nkv = c.num_key_value_heads * hd;
  const int64_t ffn = c.intermediate_size;
  const WeightSet& w = weights_;
  embed_ = bind_weight_matrix(w, c, "model.embed_tokens", c.vocab_size, h);
  // Tied when the config says so or when the file simply has no lm_head (mlx-lm drops it).
  if (!c.tie_word_embeddings && w.contains("lm_head.weight")) lm_head_ = bind_weight_matrix(w, c, "lm_head", c.vocab_size, h);
  else lm_head_ = embed_;
  final_norm_ = load_vector(w, "model.norm.weight", h);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    Layer L;
    L.input_norm = load_vector(w, p + "input_layernorm.weight", h);
    L.post_attn_norm = load_vector(w, p + "post_attention_layernorm.weight", h);
    if (traits_.sandwich_norms) {
      L.pre_ffn_norm = load_vector(w, p + "pre_feedforward_layernorm.weight", h);
      L.post_ffn_norm = load_vector(w, p + "post_feedforward_layernorm.weight", h);
    }
    if (traits_.fused_qkv) {
      L.qkv = bind_weight_matrix(w, c, p + "self_attn.qkv_proj", nq + 2 * nkv, h);
    } else {
      L.q = bind_weight_matrix(w, c, p + "self_attn.q_proj", nq, h, traits_.qkv_bias);
      L.k = bind_weight_matrix(w, c, p + "self_attn.k_proj", nkv, h, traits_.qkv_bias);
      L.v = bind_weight_matrix(w, c, p + "self_attn.v_proj", nkv, h, traits_.qkv_bias);
    }
    L.o = bind_weight_matrix(w, c, p + "self_attn.o_proj", h, nq, traits_.o_bias);
    if (traits_.qk_norm) {
      L.q_norm = load_vector(w, p + "self_attn.q_norm.weight", hd);
      L.k_norm = load_vector(w, p + "self_attn.k_norm.weight", hd);
    }
    if (traits_.fused_gate_up) {
      L.gate_up = bind_weight_matrix(w, c, p + "mlp.gate_up_proj", 2 * ffn, h);
    } else {
      L.gate = bind_weight_matrix(w, c, p + "mlp.gate_proj", ffn, h, traits_.mlp_bias);
      L.up = bind_weight_matrix(w, c, p + "mlp.up_proj", ffn, h, traits_.mlp_bias);
    }
    L.down = bind_weight_matrix(w, c, p + "mlp.down_proj", h, ffn, traits_.mlp_bias);
    // Sliding windows as transformers applies them: where layer_types says so; every
    // layer of a Mistral with sliding_window; even layers of Gemma 2.
    if (c.sliding_window) {
      if (!c.layer_types.empty()) L.sliding = c.layer_types[size_t(i)] == "sliding_attention";
      else if (c.arch == Architecture::Mistral || c.arch == Architecture::Phi3) L.sliding = true;
      else if (c.arch == Architecture::Gemma2) L.sliding = i % 2 == 0;
    }
    layers_.push_back(std::move(L));
  }
}

KVCache DecoderLM::new_cache(int64_t capacity) const {
  if (gpu_)
    return KVCache(cfg_.num_hidden_layers, cfg_.num_key_value_heads, cfg_.head_dim, capacity, gpu_->new_kv(capacity));
  // The reference path keeps float32; the fast path bfloat16, as MLX does for bf16 models.
  return KVCache(cfg_.num_hidden_layers, cfg_.num_key_value_heads, cfg_.head_dim, capacity,
                 precision_ == Precision::F32 ? KvDtype::F32 : KvDtype::BF16, kv_quant_);
}

void DecoderLM::set_kv_quantization(const KvQuantization& q) {
  if (q.bits && gpu_) fail("kv_bits: the CUDA backend keeps its KV cache in bf16 (run with --device cpu)");
  validate_kv_quantization(q, cfg_.head_dim);
  kv_quant_ = q;
}

uint64_t DecoderLM::weight_bytes() const {
  uint64_t total = 0;
  for (const auto& f : weights_.files()) total += f->file_size();
  return total;
}

void DecoderLM::attention(Layer& L, int64_t layer, const float* x, int64_t n, KVCache& cache, float* out) {
  const ModelConfig& c = cfg_;
  const int64_t H = c.num_attention_heads, KV = c.num_key_value_heads, D = c.head_dim;
  const int64_t group = H / KV;
  std::vector<float> q(size_t(n * H * D)), k(size_t(n * KV * D)), v(size_t(n * KV * D));
  if (traits_.fused_qkv) {
    std::vector<float> qkv(size_t(n * (H + 2 * KV) * D));
    L.qkv.matmul(x, n, qkv.data(), pool_, precision_);
    for (int64_t i = 0; i < n; ++i) {
      const float* row = &qkv[size_t(i * (H + 2 * KV) * D)];
      std::memcpy(&q[size_t(i * H * D)], row, size_t(H * D) * sizeof(float));
      std::memcpy(&k[size_t(i * KV * D)], row + H * D, size_t(KV * D) * sizeof(float));
      std::memcpy(&v[size_t(i * KV * D)], row + (H + KV) * D, size_t(KV * D) * sizeof(float));
    }
  } else {
    const Product qkv[] = {{&L.q, q.data()}, {&L.k, k.data()}, {&L.v, v.data()}};
    matmul_shared_input(qkv, x, n, pool_, precision_);
  }
  const int64_t start = cache.length;
  const float eps = float(c.rms_norm_eps);
  for (int64_t i = 0; i < n; ++i) {
    float* qi = &q[size_t(i * H * D)];
    float* ki = &k[size_t(i * KV * D)];
    if (traits_.qk_norm) {
      for (int64_t hh = 0; hh < H; ++hh) cpu::rms_norm(qi + hh * D, L.q_norm.data(), qi + hh * D, D, eps, false);
      for (int64_t hh = 0; hh < KV; ++hh) cpu::rms_norm(ki + hh * D, L.k_norm.data(), ki + hh * D, D, eps, false);
    }
    rope_.apply(qi, H, D, start + i, start + n);
    rope_.apply(ki, KV, D, start + i, start + n);
    for (int64_t hh = 0; hh < KV; ++hh) cache.store(layer, hh, start + i, ki + hh * D, &v[size_t((i * KV + hh) * D)]);
  }
  const float scale = traits_.query_scale > 0 ? traits_.query_scale : 1.0f / std::sqrt(float(D));
  // A job is one KV head and up to kPositions consecutive positions: its rows are those
  // positions' query heads of the group, which share every key and value the cache hands
  // out (cpu::key_tile_scores, cpu::add_weighted_values). A row's result does not depend on
  // the job's other rows, so decoding a position gives what its prompt row gave.
  // When that gives fewer jobs than threads (decode of a model with few KV heads), a job
  // takes one query head instead: less sharing, every thread busy.
  constexpr int64_t kPositions = 4, kValueChunk = 256, T = cpu::kKeyTile;
  const int64_t blocks = (n + kPositions - 1) / kPositions;
  const int64_t heads_per_job = KV * blocks < pool_.size() ? 1 : group, slices = group / heads_per_job;
  auto first_seen = [&](int64_t pos) { return L.sliding ? std::max<int64_t>(0, pos - *c.sliding_window + 1) : 0; };
  std::vector<float> attn(size_t(n * H * D));
  pool_.parallel_for(KV * slices * blocks, [&](int64_t b, int64_t e) {
    std::vector<float> rows_q, rows_out, scores, scratch(size_t(std::max(T, kValueChunk) * D));
    for (int64_t job = b; job < e; ++job) {
      const int64_t kvh = job % KV, head0 = kvh * group + job / KV % slices * heads_per_job;
      const int64_t i0 = job / (KV * slices) * kPositions, i1 = std::min(n, i0 + kPositions);
      const int64_t rows = (i1 - i0) * heads_per_job;
      // Row r: position i0 + r / heads_per_job, query head head0 + r % heads_per_job.
      auto q_offset = [&](int64_t r) { return size_t(((i0 + r / heads_per_job) * H + head0 + r % heads_per_job) * D); };
      rows_q.resize(size_t(rows * D));
      rows_out.assign(size_t(rows * D), 0.0f);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t d = 0; d < D; ++d) rows_q[size_t(r * D + d)] = q[q_offset(r) + size_t(d)] * scale;
      // Scores for the key tiles that cover positions [lo, hi]; column j is position base + j.
      const int64_t lo = first_seen(start + i0), hi = start + i1 - 1, base = lo / T * T;
      const int64_t stride = (hi / T + 1) * T - base;
      scores.resize(size_t(rows * stride));
      for (int64_t tile = base / T; tile <= hi / T; ++tile) {
        const KVCache::Span k = cache.key_tile(layer, kvh, tile, scratch.data());
        cpu::key_tile_scores(rows_q.data(), rows, D, k.data, k.bf16, &scores[size_t(tile * T - base)], stride);
      }
      // Each row's softmax over the positions it sees; zero weight for the others in [lo, hi].
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t pos = start + i0 + r / heads_per_job, first = first_seen(pos);
        float* row = &scores[size_t(r * stride)];
        const int64_t len = pos - first + 1;
        if (traits_.attn_softcap > 0) cpu::softcap(row + (first - base), len, traits_.attn_softcap);
        if (precision_ == Precision::Fast) cpu::softmax_fast(row + (first - base), len);
        else cpu::softmax(row + (first - base), len);
        std::fill(row + (lo - base), row + (first - base), 0.0f);
        std::fill(row + (pos - base) + 1, row + (hi - base) + 1, 0.0f);
      }
      for (int64_t t = lo; t <= hi; t += kValueChunk) {
        const int64_t count = std::min(kValueChunk, hi - t + 1);
        const KVCache::Span v = cache.values(layer, kvh, t, count, scratch.data());
        cpu::add_weighted_values(&scores[size_t(t - base)], stride, rows, v.data, v.bf16, count, D, rows_out.data());
      }
      for (int64_t r = 0; r < rows; ++r) std::copy_n(&rows_out[size_t(r * D)], D, &attn[q_offset(r)]);
    }
  });
  L.o.matmul(attn.data(), n, out, pool_, precision_);
}

void DecoderLM::mlp(Layer& L, const float* x, int64_t n, float* out) {
  const int64_t F = cfg_.intermediate_size;
  std::vector<float> gate(size_t(n * F)), up(size_t(n * F));
  if (traits_.fused_gate_up) {
    std::vector<float> gu(size_t(n * 2 * F));
    L.gate_up.matmul(x, n, gu.data(), pool_, precision_);
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(&gate[size_t(i * F)], &gu[size_t(i * 2 * F)], size_t(F) * sizeof(float));
      std::memcpy(&up[size_t(i * F)], &gu[size_t(i * 2 * F + F)], size_t(F) * sizeof(float));
    }
  } else {
    const Product gate_up[] = {{&L.gate, gate.data()}, {&L.up, up.data()}};
    matmul_shared_input(gate_up, x, n, pool_, precision_);
  }
  // The activation in place over the gate (elementwise): one buffer of n × F fewer.
  switch (traits_.activation) {
    case Activation::Silu:
      if (precision_ == Precision::Fast) cpu::silu_mul_fast(gate.data(), up.data(), gate.data(), n * F);
      else cpu::silu_mul(gate.data(), up.data(), gate.data(), n * F);
      break;
    case Activation::Gelu: cpu::gelu_mul(gate.data(), up.data(), gate.data(), n * F); break;
    case Activation::GeluTanh:
      if (precision_ == Precision::Fast) cpu::gelu_tanh_mul_fast(gate.data(), up.data(), gate.data(), n * F);
      else cpu::gelu_tanh_mul(gate.data(), up.data(), gate.data(), n * F);
      break;
  }
  L.down.matmul(gate.data(), n, out, pool_, precision_);
}

void DecoderLM::check_forward(std::span<const int32_t> tokens, const KVCache& cache) const {
  const int64_t n = int64_t(tokens.size());
  if (n == 0) fail("forward: no tokens");
  if (bool(gpu_) != bool(cache.device)) fail("forward: the KV cache belongs to another device");
  for (const int32_t id : tokens)
    if (id < 0 || id >= cfg_.vocab_size) fail("token id {} is outside the model's vocabulary of {}", id, cfg_.vocab_size);
  if (cache.length + n > cache.capacity)
    fail("context overflow: {} tokens do not fit the cache of {}", cache.length + n, cache.capacity);
}

int32_t DecoderLM::forward_draw(std::span<const int32_t> tokens, KVCache& cache, const TokenDraw& draw) {
  if (gpu_ && gpu_->can_draw(draw)) {
    check_forward(tokens, cache);
    int32_t next = 0;
    forward_device(tokens, cache, nullptr, false, &draw, &next);
    return next;
  }
  forward(tokens, cache, draw_logits_);
  return draw_token(draw_logits_, draw);
}

void DecoderLM::forward_device(std::span<const int32_t> tokens, KVCache& cache, std::vector<float>* logits,
                               bool all_logits, const TokenDraw* draw, int32_t* token) {
  const ModelConfig& c = cfg_;
  const int64_t n = int64_t(tokens.size());
  const std::vector<double> f = rope_.inv_freq(cache.length + n);
  const std::vector<float> inv_freq(f.begin(), f.end());
  if (logits) logits->resize(size_t((all_logits ? n : 1) * c.vocab_size));
  try {
    gpu_->forward(tokens.data(), n, cache.length, inv_freq.data(), *cache.device, logits ? logits->data() : nullptr,
                  all_logits, draw, token);
  } catch (const std::exception& e) {
    fail("CUDA forward pass failed: {}", e.what());
  }
  cache.length += n;
}

void DecoderLM::forward(std::span<const int32_t> tokens, KVCache& cache, std::vector<float>& logits, bool all_logits) {
  const ModelConfig& c = cfg_;
  const int64_t n = int64_t(tokens.size()), Hd = c.hidden_size;
  check_forward(tokens, cache);
  if (gpu_) return forward_device(tokens, cache, &logits, all_logits, nullptr, nullptr);
  cache.quantize_if_due();
  std::vector<float> x(size_t(n * Hd)), h(size_t(n * Hd)), tmp(size_t(n * Hd));
  for (int64_t i = 0; i < n; ++i) embed_.dequantize_row(tokens[size_t(i)], &x[size_t(i * Hd)]);
  if (traits_.embed_scale) {
    const float s = std::sqrt(float(Hd));
    for (auto& e : x) e *= s;
  }
  const float eps = float(c.rms_norm_eps);
  const bool off = traits_.norm_weight_offset;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    Layer& L = layers_[size_t(l)];
    for (int64_t i = 0; i < n; ++i) cpu::rms_norm(&x[size_t(i * Hd)], L.input_norm.data(), &h[size_t(i * Hd)], Hd, eps, off);
    attention(L, l, h.data(), n, cache, tmp.data());
    if (traits_.sandwich_norms)
      for (int64_t i = 0; i < n; ++i)
        cpu::rms_norm(&tmp[size_t(i * Hd)], L.post_attn_norm.data(), &tmp[size_t(i * Hd)], Hd, eps, off);
    for (size_t k = 0; k < x.size(); ++k) x[k] += tmp[k];
    const std::vector<float>& ffn_norm = traits_.sandwich_norms ? L.pre_ffn_norm : L.post_attn_norm;
    for (int64_t i = 0; i < n; ++i) cpu::rms_norm(&x[size_t(i * Hd)], ffn_norm.data(), &h[size_t(i * Hd)], Hd, eps, off);
    mlp(L, h.data(), n, tmp.data());
    if (traits_.sandwich_norms)
      for (int64_t i = 0; i < n; ++i)
        cpu::rms_norm(&tmp[size_t(i * Hd)], L.post_ffn_norm.data(), &tmp[size_t(i * Hd)], Hd, eps, off);
    for (size_t k = 0; k < x.size(); ++k) x[k] += tmp[k];
  }
  cache.length += n;
  const int64_t first_out = all_logits ? 0 : n - 1, n_out = n - first_out;
  for (int64_t i = first_out; i < n; ++i)
    cpu::rms_norm(&x[size_t(i * Hd)], final_norm_.data(), &h[size_t((i - first_out) * Hd)], Hd, eps, off);
  logits.resize(size_t(n_out * c.vocab_size));
  lm_head_.matmul(h.data(), n_out, logits.data(), pool_, precision_);
  if (traits_.final_softcap > 0) cpu::softcap(logits.data(), int64_t(logits.size()), traits_.final_softcap);
}

}  // namespace mlxcpp
