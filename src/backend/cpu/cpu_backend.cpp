#include "backend/cpu/cpu_backend.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "backend/cpu/attention.h"
#include "backend/cpu/draw.h"
#include "backend/cpu/fast_math.h"
#include "backend/cpu/int8_matmul.h"
#include "backend/cpu/kv_blocks.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/resident_weights.h"
#include "backend/cpu/rope.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace mlxcpp {
namespace {

using cpu::KvBlocks;

// The rows of a batch: sequence `seq` at position `pos`.
struct Row {
  int32_t seq;
  int64_t pos;
};

// One attention job: a KV head and up to kPositions consecutive rows of one sequence, with
// `heads` of the group's query heads from `head0` (see attention()).
struct AttentionJob {
  int32_t seq;
  int64_t kv_head, head0, heads, row0, rows;
};

// Grows a buffer without giving back its memory: after the first steps of a size no step
// allocates.
float* sized(std::vector<float>& v, int64_t n) {
  if (v.size() < size_t(n)) v.resize(size_t(n));
  return v.data();
}

class CpuBackend final : public Backend {
 public:
  CpuBackend(const ModelProgram& program, const CpuBackendOptions& o)
      : pool_(o.threads),
        weights_(program, o.huge_pages, o.source_files, pool_),
        p_(weights_.program()),
        kvq_(o.kv_quantization) {
    const ModelProgram& p = p_;
    validate_kv_quantization(kvq_, p.head_dim);
    for (const LayerProgram& L : p.layers) {
      if (L.attention.rope >= int(p.ropes.size())) fail("model program: a layer names RoPE {}", L.attention.rope);
      if (L.attention.rope >= 0 && p.ropes[size_t(L.attention.rope)].dims / 2 > 512)
        fail("RoPE over {} dimensions is more than the CPU backend's 1024", p.ropes[size_t(L.attention.rope)].dims);
    }
    int64_t offset = 0;
    for (const RopeSpec& r : p.ropes) rope_offset_.push_back(offset), offset += r.dims / 2;
  }

  std::string describe() const override {
    return fmt::format("CPU, {} threads: {:.2f} GiB of weights{}, int8 kernels {}", pool_.size(),
                       double(weights_.bytes()) / double(1ull << 30), weights_.on_huge_pages() ? " on huge pages" : "",
                       cpu::int8_kernel_name());
  }

  std::unique_ptr<KvBlockStore> make_kv_store(const KvLayout& layout, int32_t blocks) override {
    const bool f32 = p_.precision == Precision::F32;
    if (blocks <= 0) {
      // The pool's memory is committed as blocks are first written: the default reserves
      // room for four sequences of the full context, within half of the physical memory.
      const uint64_t per_block = KvBlocks::position_bytes(layout, f32, kvq_) * uint64_t(kKvBlock);
      const uint64_t ram = uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE));
      const int64_t wanted = 4 * kv_blocks_for(p_.context);
      blocks = int32_t(std::clamp<int64_t>(int64_t(ram / 2 / per_block), 1, std::min<int64_t>(wanted, INT32_MAX)));
    }
    return std::make_unique<KvBlocks>(layout, f32, kvq_, blocks);
  }

  bool can_draw(const TokenDraw&) const override { return true; }

  void forward(std::span<const SequenceStep> batch) override;

 private:
  void attention(const LayerProgram& L, int64_t layer, std::span<const SequenceStep> batch, KvBlocks& kv, float* out);
  void feed_forward(const FeedForwardStep& f, float* out);
  void gated(const GatedProjections& g, const FeedForwardStep& f, const float* x, int64_t rows, int64_t width,
             float* out);
  void mixture(const FeedForwardStep& f, float* out);
  void activate(Activation activation, float clamp_limit, float* gate, const float* up, int64_t n) const;
  void norm_rows(const float* x, const float* w, float* y) const {
    if (!w) {  // no norm here (OLMo 2 before attention and the MLP)
      if (y != x) std::copy_n(x, n_ * p_.hidden, y);
      return;
    }
    for (int64_t i = 0; i < n_; ++i)
      cpu::rms_norm(x + i * p_.hidden, w, y + i * p_.hidden, p_.hidden, p_.norm_eps, p_.norm_weight_offset);
  }
  bool fast() const { return p_.precision == Precision::Fast; }

  ThreadPool pool_;
  cpu::ResidentWeights weights_;
  const ModelProgram& p_;  // weights_'s copy of the program
  KvQuantization kvq_;
  std::vector<int64_t> rope_offset_;  // of each RoPE's frequencies in SequenceStep::rope_freqs
  // The step's rows and activations, kept from step to step.
  int64_t n_ = 0;
  std::vector<Row> rows_;
  std::vector<AttentionJob> jobs_;
  std::vector<float> x_, h_, tmp_, q_, k_, v_, fused_, attn_, gate_, up_, out_rows_;
  std::vector<std::pair<const SequenceStep*, float*>> draws_;  // the step's draws and their logits
  // Mixture of experts: the router's probabilities, each row's choices, an expert's rows.
  struct Choice {
    int32_t expert;
    float weight;
  };
  std::vector<float> router_, expert_in_, expert_gate_up_, expert_out_;
  std::vector<Choice> choices_;
  std::vector<std::vector<int64_t>> expert_slots_;  // per expert: the (row · top_k + k) that chose it
  // The mixture's per-step bookkeeping, kept from step to step so that decode allocates nothing.
  std::vector<int32_t> expert_order_;
  std::vector<int64_t> expert_offset_, expert_group_;
  std::vector<uint8_t> expert_done_;
  std::vector<Product> expert_products_;
  std::vector<const float*> down_inputs_;
  // Each thread's attention scratch, sized by the caller before the jobs start (so that a
  // step of a shape seen before allocates nothing, whichever thread takes which job).
  struct JobScratch {
    std::vector<float> rows_q, rows_out, scores, scratch;
  };
  std::vector<JobScratch> job_scratch_;
};

void CpuBackend::forward(std::span<const SequenceStep> batch) {
  const int64_t Hd = p_.hidden;
  rows_.clear();
  KvBlocks* kv = nullptr;
  for (size_t s = 0; s < batch.size(); ++s) {
    const SequenceStep& st = batch[s];
    auto* blocks = dynamic_cast<KvBlocks*>(&st.kv->pool()->store());
    if (!blocks || (kv && blocks != kv)) fail("forward: a sequence's KV cache belongs to another backend or pool");
    kv = blocks;
    kv->quantize_if_due(*st.kv);
    for (size_t i = 0; i < st.tokens.size(); ++i) rows_.push_back({int32_t(s), st.kv->length() + int64_t(i)});
  }
  n_ = int64_t(rows_.size());
  if (n_ == 0) return;
  float* x = sized(x_, n_ * Hd);
  float* h = sized(h_, n_ * Hd);
  float* tmp = sized(tmp_, n_ * Hd);
  {
    int64_t r = 0;
    for (const SequenceStep& st : batch)
      for (const int32_t id : st.tokens) p_.embed.dequantize_row(id, x + Hd * r++);
  }
  if (p_.embed_scale != 1.0f)
    for (int64_t i = 0; i < n_ * Hd; ++i) x[i] *= p_.embed_scale;
  for (size_t l = 0; l < p_.layers.size(); ++l) {
    const LayerProgram& L = p_.layers[l];
    norm_rows(x, L.attn_norm, h);
    attention(L, int64_t(l), batch, *kv, tmp);
    if (L.attn_post_norm) norm_rows(tmp, L.attn_post_norm, tmp);
    for (int64_t k = 0; k < n_ * Hd; ++k) x[k] += tmp[k];
    norm_rows(x, L.ffn_norm, h);
    feed_forward(L.ffn, tmp);
    if (L.ffn_post_norm) norm_rows(tmp, L.ffn_post_norm, tmp);
    for (int64_t k = 0; k < n_ * Hd; ++k) x[k] += tmp[k];
  }
  // The rows whose logits are wanted (a sequence's last ones), gathered for one product with
  // the output head.
  auto rows_wanted = [](const SequenceStep& st) -> int64_t {
    return st.output == StepOutput::AllLogits ? int64_t(st.tokens.size()) : st.output != StepOutput::None;
  };
  int64_t wanted = 0, r0 = 0;
  for (const SequenceStep& st : batch) {
    const int64_t n = int64_t(st.tokens.size());
    for (int64_t i = r0 + n - rows_wanted(st); i < r0 + n; ++i)
      cpu::rms_norm(x + i * Hd, p_.final_norm, h + wanted++ * Hd, Hd, p_.norm_eps, p_.norm_weight_offset);
    r0 += n;
  }
  if (wanted == 0) return;
  float* logits = sized(out_rows_, wanted * p_.vocab);
  cpu::matmul(p_.lm_head, h, wanted, logits, pool_, p_.precision);
  if (p_.final_softcap > 0) cpu::softcap(logits, wanted * p_.vocab, p_.final_softcap);
  draws_.clear();
  for (const SequenceStep& st : batch) {
    const int64_t count = rows_wanted(st);
    if (st.output == StepOutput::Token)
      draws_.push_back({&st, logits});
    else if (count)
      std::copy_n(logits, count * p_.vocab, st.logits);
    logits += count * p_.vocab;
  }
  // A sampled draw takes two exponentials a token of the vocabulary: a sequence a thread.
  pool_.parallel_for(int64_t(draws_.size()), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const auto [st, row] = draws_[size_t(i)];
      *st->token = cpu::draw_token(std::span<float>(row, size_t(p_.vocab)), *st->draw);
    }
  });
}

void CpuBackend::attention(const LayerProgram& L, int64_t layer, std::span<const SequenceStep> batch, KvBlocks& kv,
                           float* out) {
  const AttentionStep& A = L.attention;
  const int64_t H = p_.heads, KV = p_.kv_heads, D = p_.head_dim, group = H / KV;
  float* q = sized(q_, n_ * H * D);
  float* k = sized(k_, n_ * KV * D);
  float* v = sized(v_, n_ * KV * D);
  if (A.qkv.size() == 1) {
    const int64_t width = (H + 2 * KV) * D;
    float* qkv = sized(fused_, n_ * width);
    cpu::matmul(A.qkv[0], h_.data(), n_, qkv, pool_, p_.precision);
    for (int64_t i = 0; i < n_; ++i) {
      const float* row = qkv + i * width;
      std::memcpy(q + i * H * D, row, size_t(H * D) * sizeof(float));
      std::memcpy(k + i * KV * D, row + H * D, size_t(KV * D) * sizeof(float));
      std::memcpy(v + i * KV * D, row + (H + KV) * D, size_t(KV * D) * sizeof(float));
    }
  } else {
    const Product qkv[] = {{&A.qkv[0], q}, {&A.qkv[1], k}, {&A.qkv[2], v}};
    cpu::matmul_shared_input(qkv, h_.data(), n_, pool_, p_.precision);
  }
  for (int64_t i = 0; i < n_; ++i) {
    const SequenceStep& st = batch[size_t(rows_[size_t(i)].seq)];
    const int64_t pos = rows_[size_t(i)].pos;
    float* qi = q + i * H * D;
    float* ki = k + i * KV * D;
    if (A.q_norm && A.qk_norm_whole) {
      cpu::rms_norm(qi, A.q_norm, qi, H * D, p_.norm_eps, p_.norm_weight_offset);
      cpu::rms_norm(ki, A.k_norm, ki, KV * D, p_.norm_eps, p_.norm_weight_offset);
    } else if (A.q_norm) {
      // (Gemma 3's q/k norms scale by 1 + w too.)
      for (int64_t hh = 0; hh < H; ++hh)
        cpu::rms_norm(qi + hh * D, A.q_norm, qi + hh * D, D, p_.norm_eps, p_.norm_weight_offset);
      for (int64_t hh = 0; hh < KV; ++hh)
        cpu::rms_norm(ki + hh * D, A.k_norm, ki + hh * D, D, p_.norm_eps, p_.norm_weight_offset);
    }
    if (A.rope >= 0) {
      const RopeSpec& rope = p_.ropes[size_t(A.rope)];
      const float* freqs = st.rope_freqs.data() + rope_offset_[size_t(A.rope)];
      cpu::rope_rotate(qi, H, D, pos, rope, freqs);
      cpu::rope_rotate(ki, KV, D, pos, rope, freqs);
    }
    for (int64_t hh = 0; hh < KV; ++hh) kv.store(*st.kv, layer, hh, pos, ki + hh * D, v + (i * KV + hh) * D);
  }
  // A job is one KV head and up to kPositions consecutive rows of one sequence: its rows
  // are those positions' query heads of the group, which share every key and value the
  // cache hands out (cpu::key_tile_scores, cpu::add_weighted_values). A row's result does
  // not depend on the job's other rows, so decoding a position gives what its prompt row
  // gave, and a sequence in a batch what it gets alone. When that gives fewer jobs than
  // threads (decode of a model with few KV heads), a job takes one query head instead:
  // less sharing, every thread busy. A sequence's jobs go head by head (a thread's run of
  // consecutive jobs then reads one head's keys and values again while they are in its cache).
  constexpr int64_t kPositions = 4, T = cpu::kKeyTile;
  int64_t blocks = 0;
  for (const SequenceStep& st : batch) blocks += (int64_t(st.tokens.size()) + kPositions - 1) / kPositions;
  const int64_t heads_per_job = KV * blocks < pool_.size() ? 1 : group;
  jobs_.clear();
  {
    int64_t r0 = 0;
    for (size_t s = 0; s < batch.size(); ++s) {
      const int64_t n = int64_t(batch[s].tokens.size());
      for (int64_t head0 = 0; head0 < H; head0 += heads_per_job)
        for (int64_t i0 = 0; i0 < n; i0 += kPositions)
          jobs_.push_back({int32_t(s), head0 / group, head0, heads_per_job, r0 + i0, std::min(kPositions, n - i0)});
      r0 += n;
    }
  }
  const float scale = A.scale;
  float* attn = sized(attn_, n_ * H * D);
  {
    // The largest job's needs: its rows, and scores over every key tile up to its position.
    const int64_t rows = kPositions * heads_per_job;
    int64_t stride = 0;
    for (const Row& r : rows_) stride = std::max(stride, (r.pos / T + 1) * T);
    if (job_scratch_.size() < size_t(pool_.size())) job_scratch_.resize(size_t(pool_.size()));
    for (JobScratch& js : job_scratch_) {
      sized(js.rows_q, rows * D);
      sized(js.rows_out, rows * D);
      sized(js.scores, rows * stride);
      sized(js.scratch, 2 * T * D);  // two key tiles, or one block of values
    }
  }
  pool_.parallel_for(int64_t(jobs_.size()), [&](int64_t b, int64_t e) {
    JobScratch& js = job_scratch_[size_t(ThreadPool::thread_index())];
    std::vector<float>&rows_q = js.rows_q, &rows_out = js.rows_out, &scores = js.scores, &scratch = js.scratch;
    for (int64_t j = b; j < e; ++j) {
      const AttentionJob& job = jobs_[size_t(j)];
      const KvSequence& seq = *batch[size_t(job.seq)].kv;
      const int64_t rows = job.rows * job.heads;
      // Row r: batch row job.row0 + r / heads, query head head0 + r % heads.
      auto q_offset = [&](int64_t r) { return ((job.row0 + r / job.heads) * H + job.head0 + r % job.heads) * D; };
      auto first_seen = [&](int64_t pos) {
        return A.kind == AttentionKind::SlidingWindow ? std::max<int64_t>(0, pos - A.window + 1) : 0;
      };
      std::fill_n(rows_out.begin(), rows * D, 0.0f);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t d = 0; d < D; ++d) rows_q[size_t(r * D + d)] = q[q_offset(r) + d] * scale;
      // Scores for the key tiles that cover positions [lo, hi]; column c is position base + c.
      const int64_t p0 = rows_[size_t(job.row0)].pos, p1 = p0 + job.rows - 1;
      const int64_t lo = first_seen(p0), hi = p1, base = lo / T * T;
      const int64_t stride = (hi / T + 1) * T - base;
      // Two tiles at a time; their blocks lie apart in memory, so each is asked for a pair of
      // tiles before its use.
      constexpr int64_t kAhead = 2;
      const int64_t last = hi / T;
      for (int64_t tile = base / T; tile <= last; tile += 2) {
        for (int64_t t = tile + kAhead; t <= std::min(last, tile + kAhead + 1); ++t)
          kv.prefetch(seq, layer, job.kv_head, t, false);
        const KvBlocks::Span keys = kv.key_tile(seq, layer, job.kv_head, tile, scratch.data());
        const void* next =
            tile < last ? kv.key_tile(seq, layer, job.kv_head, tile + 1, scratch.data() + T * D).data : nullptr;
        cpu::key_tile_scores(rows_q.data(), rows, D, keys.data, next, keys.bf16, &scores[size_t(tile * T - base)],
                             stride);
      }
      // Each row's softmax over the positions it sees; zero weight for the others in [lo, hi].
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t pos = p0 + r / job.heads, first = first_seen(pos);
        float* row = &scores[size_t(r * stride)];
        const int64_t len = pos - first + 1;
        const float sink = A.sinks ? A.sinks[job.head0 + r % job.heads] : -INFINITY;
        if (A.softcap > 0) cpu::softcap(row + (first - base), len, A.softcap);
        if (fast())
          cpu::softmax_fast(row + (first - base), len, sink);
        else
          cpu::softmax(row + (first - base), len, sink);
        std::fill(row + (lo - base), row + (first - base), 0.0f);
        std::fill(row + (pos - base) + 1, row + (hi - base) + 1, 0.0f);
      }
      // Values block by block, positions in order (each row's sums run over them in order).
      for (int64_t tile = lo / T; tile <= std::min(hi / T, lo / T + kAhead - 1); ++tile)
        kv.prefetch(seq, layer, job.kv_head, tile, true);
      for (int64_t t = lo; t <= hi;) {
        const int64_t count = std::min(T - t % T, hi - t + 1);
        if (t / T + kAhead <= hi / T) kv.prefetch(seq, layer, job.kv_head, t / T + kAhead, true);
        const KvBlocks::Span vals = kv.values(seq, layer, job.kv_head, t, count, scratch.data());
        cpu::add_weighted_values(&scores[size_t(t - base)], stride, rows, vals.data, vals.bf16, count, D,
                                 rows_out.data());
        t += count;
      }
      for (int64_t r = 0; r < rows; ++r) std::copy_n(&rows_out[size_t(r * D)], D, &attn[q_offset(r)]);
    }
  });
  cpu::matmul(A.o, attn, n_, out, pool_, p_.precision);
}

void CpuBackend::feed_forward(const FeedForwardStep& f, float* out) {
  if (f.mixture()) return mixture(f, out);
  gated(f.dense, f, h_.data(), n_, p_.ffn, out);
}

// gate = act(gate) · up, elementwise.
void CpuBackend::activate(Activation activation, float clamp_limit, float* gate, const float* up, int64_t n) const {
  switch (activation) {
    case Activation::Silu:
      if (fast())
        cpu::silu_mul_fast(gate, up, gate, n);
      else
        cpu::silu_mul(gate, up, gate, n);
      break;
    case Activation::Gelu:
      cpu::gelu_mul(gate, up, gate, n);
      break;
    case Activation::GeluTanh:
      if (fast())
        cpu::gelu_tanh_mul_fast(gate, up, gate, n);
      else
        cpu::gelu_tanh_mul(gate, up, gate, n);
      break;
    case Activation::ClampedSwiglu:
      cpu::clamped_swiglu_mul(gate, up, gate, n, clamp_limit);
      break;
  }
}

// down(act(gate x) · up x) for `rows` rows of x (the activation: f's).
void CpuBackend::gated(const GatedProjections& g, const FeedForwardStep& f, const float* x, int64_t rows, int64_t width,
                       float* out) {
  const int64_t F = width, n = rows;
  float* gate = sized(gate_, n * F);
  float* up = sized(up_, n * F);
  if (g.gate_up.size() == 1) {
    float* gu = sized(fused_, n * 2 * F);
    cpu::matmul(g.gate_up[0], x, n, gu, pool_, p_.precision);
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(gate + i * F, gu + i * 2 * F, size_t(F) * sizeof(float));
      std::memcpy(up + i * F, gu + i * 2 * F + F, size_t(F) * sizeof(float));
    }
  } else {
    const Product gate_up[] = {{&g.gate_up[0], gate}, {&g.gate_up[1], up}};
    cpu::matmul_shared_input(gate_up, x, n, pool_, p_.precision);
  }
  activate(f.activation, f.clamp_limit, gate, up, n * F);  // in place over the gate: one buffer of n × F fewer
  cpu::matmul(g.down, gate, n, out, pool_, p_.precision);
}

// Each expert runs once over the rows that chose it (decode reads only the chosen experts'
// weights). Experts chosen by the same rows — every expert of a lone decoding token — take
// their gate and up products in one pass over the input (matmul_shared_input gives what
// separate products give). A row's output then adds its experts' in the experts' order,
// whatever rows come with it, so a sequence gets the same bits alone or in a batch.
void CpuBackend::mixture(const FeedForwardStep& f, float* out) {
  const int64_t E = int64_t(f.experts.size()), K = f.top_k, Hd = p_.hidden, F = p_.expert_ffn;
  float* probs = sized(router_, n_ * E);
  cpu::matmul(f.router, h_.data(), n_, probs, pool_, p_.precision);
  choices_.resize(size_t(n_ * K));
  std::vector<int32_t>& order = expert_order_;
  order.resize(size_t(E));
  for (int64_t i = 0; i < n_; ++i) {
    float* row = probs + i * E;
    cpu::softmax(row, E);
    for (int32_t e = 0; e < int32_t(E); ++e) order[size_t(e)] = e;
    std::partial_sort(order.begin(), order.begin() + K, order.end(),
                      [row](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    float sum = 0.0f;
    for (int64_t k = 0; k < K; ++k) sum += row[order[size_t(k)]];
    for (int64_t k = 0; k < K; ++k) {
      const int32_t e = order[size_t(k)];
      choices_[size_t(i * K + k)] = {e, f.renormalize ? row[e] / sum : row[e]};
    }
  }
  // Each chosen expert's rows (ascending), and its place in the output buffer.
  expert_slots_.resize(size_t(E));
  for (auto& s : expert_slots_) s.clear();  // (keeping their memory from step to step)
  for (int64_t i = 0; i < n_ * K; ++i) expert_slots_[size_t(choices_[size_t(i)].expert)].push_back(i);
  std::vector<int64_t>& offset = expert_offset_;
  offset.assign(size_t(E), -1);
  int64_t outputs = 0;
  for (int64_t e = 0; e < E; ++e)
    if (!expert_slots_[size_t(e)].empty())
      offset[size_t(e)] = outputs, outputs += int64_t(expert_slots_[size_t(e)].size());
  float* y = sized(expert_out_, outputs * Hd);
  std::vector<uint8_t>& done = expert_done_;
  done.assign(size_t(E), 0);
  auto same_rows = [&](int64_t a, int64_t b) {
    const auto &x = expert_slots_[size_t(a)], &z = expert_slots_[size_t(b)];
    if (x.size() != z.size()) return false;
    for (size_t j = 0; j < x.size(); ++j)
      if (x[j] / K != z[j] / K) return false;
    return true;
  };
  std::vector<int64_t>& group = expert_group_;
  std::vector<Product>& products = expert_products_;
  for (int64_t e0 = 0; e0 < E; ++e0) {
    if (done[size_t(e0)] || expert_slots_[size_t(e0)].empty()) continue;
    group.clear();
    for (int64_t e = e0; e < E; ++e)
      if (!done[size_t(e)] && !expert_slots_[size_t(e)].empty() && same_rows(e0, e))
        group.push_back(e), done[size_t(e)] = 1;
    const auto& slots = expert_slots_[size_t(e0)];
    const int64_t m = int64_t(slots.size()), G = int64_t(group.size());
    float* in = sized(expert_in_, m * Hd);
    for (int64_t j = 0; j < m; ++j) std::copy_n(h_.data() + slots[size_t(j)] / K * Hd, Hd, in + j * Hd);
    // Gate and up of every expert of the group: [expert][gate | up][m × F] (a fused
    // gate_up matrix writes both halves per row).
    float* gu = sized(expert_gate_up_, G * 2 * m * F);
    products.clear();
    for (int64_t g = 0; g < G; ++g) {
      const GatedProjections& x = f.experts[size_t(group[size_t(g)])];
      float* base = gu + g * 2 * m * F;
      if (x.gate_up.size() == 1)
        products.push_back({&x.gate_up[0], base});
      else
        products.push_back({&x.gate_up[0], base}), products.push_back({&x.gate_up[1], base + m * F});
    }
    cpu::matmul_shared_input(products, in, m, pool_, p_.precision);
    for (int64_t g = 0; g < G; ++g) {
      const GatedProjections& x = f.experts[size_t(group[size_t(g)])];
      float* gate = gu + g * 2 * m * F;
      float* up = gate + m * F;
      if (x.gate_up.size() == 1) {  // rows of [gate | up] → the two halves
        float* fused = sized(fused_, m * 2 * F);
        std::copy_n(gate, m * 2 * F, fused);
        for (int64_t j = 0; j < m; ++j) {
          std::copy_n(fused + j * 2 * F, F, gate + j * F);
          std::copy_n(fused + j * 2 * F + F, F, up + j * F);
        }
      }
      activate(f.activation, f.clamp_limit, gate, up, m * F);
    }
    // The group's down products in one parallel loop (decode: the token's k experts).
    products.clear();
    down_inputs_.clear();
    for (int64_t g = 0; g < G; ++g) {
      products.push_back({&f.experts[size_t(group[size_t(g)])].down, y + offset[size_t(group[size_t(g)])] * Hd});
      down_inputs_.push_back(gu + g * 2 * m * F);
    }
    cpu::matmul_each_input(products, down_inputs_, m, pool_, p_.precision);
  }
  std::fill_n(out, n_ * Hd, 0.0f);
  for (int64_t e = 0; e < E; ++e) {
    const auto& slots = expert_slots_[size_t(e)];
    for (size_t j = 0; j < slots.size(); ++j) {
      const float weight = choices_[size_t(slots[j])].weight;
      const float* ye = y + (offset[size_t(e)] + int64_t(j)) * Hd;
      float* o = out + slots[j] / K * Hd;
      for (int64_t d = 0; d < Hd; ++d) o[d] += weight * ye[d];
    }
  }
}

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ModelProgram& program, const CpuBackendOptions& options) {
  return std::make_unique<CpuBackend>(program, options);
}

}  // namespace mlxcpp
