// Mixture-of-experts layers (qwen3_moe, mixtral): routing against a direct computation of
// its definition, both checkpoint layouts (MLX's stacked experts, Hugging Face's one tensor
// per expert) against transformers' logits, batch invariance, and errors that name what is
// missing.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "backend/cpu/cpu_backend.h"
#include "convert/convert.h"
#include "convert/synth.h"
#include "format/safetensors_writer.h"
#include "format/weight_set.h"
#include "model/model_report.h"
#include "model_checks.h"
#include "runtime/engine.h"
#include "test_support.h"
#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

namespace fs = std::filesystem;

// --- Routing, on a one-layer program whose only work is the mixture -----------------------

struct Floats {
  std::vector<float> v;
  WeightMatrix matrix(int64_t rows, int64_t cols, const std::string& name) const {
    WeightMatrix m;
    m.name = name;
    m.rows = rows;
    m.cols = cols;
    m.dtype = DType::F32;
    m.data = reinterpret_cast<const uint8_t*>(v.data());
    return m;
  }
};

Floats random_floats(size_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  Floats f;
  for (size_t i = 0; i < n; ++i) f.v.push_back(d(rng));
  return f;
}

// x (the token's embedding) + Σ over its top-k experts of p_e · down_e(silu(gate_e x) · up_e x),
// computed here straight from the definition, then the final RMSNorm: what the program below
// must give as logits (its attention adds nothing and its head is the identity).
// gpt-oss's variant: biases on the router and the experts, the clamped SwiGLU (limit 7).
struct Biases {
  bool on = false;
  Floats router, gate, up, down;  // [E], [E·F], [E·F], [E·H]
};

std::vector<float> expected_output(const std::vector<float>& x, const std::vector<Floats>& gate,
                                   const std::vector<Floats>& up, const std::vector<Floats>& down,
                                   const Floats& router, int64_t H, int64_t F, int top_k, bool renormalize,
                                   const Biases& b = {}) {
  const int64_t E = int64_t(gate.size());
  std::vector<double> logits(static_cast<size_t>(E));
  for (int64_t e = 0; e < E; ++e) {
    for (int64_t j = 0; j < H; ++j) logits[size_t(e)] += double(router.v[size_t(e * H + j)]) * x[size_t(j)];
    if (b.on) logits[size_t(e)] += b.router.v[size_t(e)];
  }
  const double top = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double z = 0;
  for (size_t e = 0; e < p.size(); ++e) z += p[e] = std::exp(logits[e] - top);
  for (double& q : p) q /= z;
  std::vector<int64_t> order(static_cast<size_t>(E));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[size_t(a)] > p[size_t(b)]; });
  double chosen = 0;
  for (int k = 0; k < top_k; ++k) chosen += p[size_t(order[size_t(k)])];
  std::vector<double> y(x.begin(), x.end());
  for (int k = 0; k < top_k; ++k) {
    const int64_t e = order[size_t(k)];
    const double w = renormalize ? p[size_t(e)] / chosen : p[size_t(e)];
    std::vector<double> act(static_cast<size_t>(F));
    for (int64_t i = 0; i < F; ++i) {
      double g = 0, u = 0;
      for (int64_t j = 0; j < H; ++j) {
        g += double(gate[size_t(e)].v[size_t(i * H + j)]) * x[size_t(j)];
        u += double(up[size_t(e)].v[size_t(i * H + j)]) * x[size_t(j)];
      }
      if (b.on) {
        g = std::min(g + b.gate.v[size_t(e * F + i)], 7.0);
        u = std::clamp(u + b.up.v[size_t(e * F + i)], -7.0, 7.0);
        act[size_t(i)] = g / (1 + std::exp(-1.702 * g)) * (u + 1);
      } else {
        act[size_t(i)] = g / (1 + std::exp(-g)) * u;
      }
    }
    for (int64_t o = 0; o < H; ++o) {
      double s = b.on ? b.down.v[size_t(e * H + o)] : 0.0;
      for (int64_t i = 0; i < F; ++i) s += double(down[size_t(e)].v[size_t(o * F + i)]) * act[size_t(i)];
      y[size_t(o)] += w * s;
    }
  }
  double ms = 0;
  for (double v : y) ms += v * v;
  const double inv = 1 / std::sqrt(ms / double(H) + 1e-6);
  std::vector<float> out;
  for (double v : y) out.push_back(float(v * inv));
  return out;
}

TEST(MixtureOfExperts, EachTokenGetsItsTopExpertsWeightedByTheirProbabilities) {
  constexpr int64_t H = 32, F = 24, E = 6, V = H;  // vocabulary = hidden: the head is the identity
  for (const bool gpt_oss : {false, true})
  for (const bool renormalize : {false, true})
    for (const int top_k : {1, 2, 4}) {
      if (gpt_oss && !renormalize) continue;
      SCOPED_TRACE(std::string(gpt_oss ? "gpt-oss " : "") + (renormalize ? "renormalised" : "raw") + " top " +
                   std::to_string(top_k));
      std::mt19937 rng(uint32_t(17 + top_k));
      const Floats embed = random_floats(size_t(V * H), rng, 1.0f);
      const Floats router = random_floats(size_t(E * H), rng, 0.5f);
      std::vector<Floats> gate, up, down;
      for (int64_t e = 0; e < E; ++e) {
        gate.push_back(random_floats(size_t(F * H), rng, 0.3f));
        up.push_back(random_floats(size_t(F * H), rng, 0.3f));
        down.push_back(random_floats(size_t(H * F), rng, 0.3f));
      }
      Floats identity, zeros, ones;
      identity.v.assign(size_t(V * H), 0.0f);
      for (int64_t i = 0; i < H; ++i) identity.v[size_t(i * H + i)] = 1.0f;
      zeros.v.assign(size_t(H * H), 0.0f);
      ones.v.assign(size_t(H), 1.0f);

      ModelProgram p;
      p.hidden = H, p.heads = 2, p.kv_heads = 2, p.head_dim = H / 2, p.ffn = F, p.expert_ffn = F, p.vocab = V;
      p.context = 64;
      p.ropes.push_back({H / 2, false, 1.0, 1.0f});
      p.embed = embed.matrix(V, H, "embed");
      p.lm_head = identity.matrix(V, H, "head");
      p.final_norm = ones.v.data();
      LayerProgram L;
      // Attention that adds nothing: its output projection is zero.
      L.attention.qkv = {zeros.matrix(H, H, "q"), zeros.matrix(H, H, "k"), zeros.matrix(H, H, "v")};
      L.attention.o = zeros.matrix(H, H, "o");
      L.attention.scale = 0.25f;
      L.ffn.router = router.matrix(E, H, "router");
      L.ffn.top_k = top_k;
      L.ffn.renormalize = renormalize;
      for (int64_t e = 0; e < E; ++e)
        L.ffn.experts.push_back({{gate[size_t(e)].matrix(F, H, "gate"), up[size_t(e)].matrix(F, H, "up")},
                                 down[size_t(e)].matrix(H, F, "down")});
      Biases biases;
      if (gpt_oss) {  // large enough that the clamps at ±7 bite
        biases.on = true;
        biases.router = random_floats(size_t(E), rng, 0.5f);
        biases.gate = random_floats(size_t(E * F), rng, 5.0f);
        biases.up = random_floats(size_t(E * F), rng, 5.0f);
        biases.down = random_floats(size_t(E * H), rng, 0.5f);
        L.ffn.activation = Activation::ClampedSwiglu;
        L.ffn.clamp_limit = 7.0f;
        L.ffn.router.bias = biases.router.v.data();
        for (int64_t e = 0; e < E; ++e) {
          L.ffn.experts[size_t(e)].gate_up[0].bias = biases.gate.v.data() + e * F;
          L.ffn.experts[size_t(e)].gate_up[1].bias = biases.up.v.data() + e * F;
          L.ffn.experts[size_t(e)].down.bias = biases.down.v.data() + e * H;
        }
      }
      p.layers.push_back(L);

      auto backend = make_cpu_backend(p, {.threads = 2});
      auto pool = std::make_shared<KvPool>(backend->make_kv_store({1, p.kv_heads, p.head_dim}, 8));
      KvSequence kv(pool);
      const std::vector<int32_t> tokens = {3, 17, 9, 30, 0, 22, 5, 11};
      kv.reserve(int64_t(tokens.size()));
      std::vector<float> freqs(size_t(H / 4), 1.0f), logits(tokens.size() * size_t(V));
      const SequenceStep step{tokens, &kv, freqs, StepOutput::AllLogits, nullptr, logits.data(), nullptr};
      backend->forward({&step, 1});
      for (size_t t = 0; t < tokens.size(); ++t) {
        const std::vector<float> x(embed.v.begin() + tokens[t] * H, embed.v.begin() + (tokens[t] + 1) * H);
        const auto want = expected_output(x, gate, up, down, router, H, F, top_k, renormalize, biases);
        for (int64_t o = 0; o < H; ++o)
          ASSERT_NEAR(logits[t * size_t(V) + size_t(o)], want[size_t(o)], 2e-5) << "token " << t << " output " << o;
      }
    }
}

// gpt-oss's attention sinks: a learned logit per query head in each softmax, which takes
// weight and brings no value; on full and sliding-window layers, both precisions.
TEST(AttentionSinks, TakeTheirShareOfEverySoftmax) {
  constexpr int64_t H = 32, heads = 4, kv_heads = 2, D = 8, V = H;
  std::mt19937 rng(5);
  const Floats embed = random_floats(size_t(V * H), rng, 1.0f);
  const Floats wq = random_floats(size_t(H * H), rng, 0.4f), wk = random_floats(size_t(kv_heads * D * H), rng, 0.4f),
               wv = random_floats(size_t(kv_heads * D * H), rng, 0.4f);
  const Floats sinks = random_floats(size_t(heads), rng, 2.0f);
  Floats identity, zeros, ones;
  identity.v.assign(size_t(H * H), 0.0f);
  for (int64_t i = 0; i < H; ++i) identity.v[size_t(i * H + i)] = 1.0f;
  zeros.v.assign(size_t(H * H), 0.0f);
  ones.v.assign(size_t(H), 1.0f);
  const std::vector<int32_t> tokens = {3, 17, 9, 30, 0, 22, 5, 11, 3, 3};
  for (const int64_t window : {int64_t(0), int64_t(3)})
    for (const Precision precision : {Precision::F32, Precision::Fast}) {
      SCOPED_TRACE((window ? "window 3" : "full") + std::string(precision == Precision::F32 ? " f32" : " fast"));
      ModelProgram p;
      p.hidden = H, p.heads = heads, p.kv_heads = kv_heads, p.head_dim = D, p.ffn = H, p.vocab = V, p.context = 64;
      p.precision = precision;
      p.embed = embed.matrix(V, H, "embed");
      p.lm_head = identity.matrix(V, H, "head");
      p.final_norm = ones.v.data();
      LayerProgram L;
      L.attention.kind = window ? AttentionKind::SlidingWindow : AttentionKind::Full;
      L.attention.window = window;
      L.attention.rope = -1;
      L.attention.qkv = {wq.matrix(H, H, "q"), wk.matrix(kv_heads * D, H, "k"), wv.matrix(kv_heads * D, H, "v")};
      L.attention.o = identity.matrix(H, H, "o");
      L.attention.scale = 0.35f;
      L.attention.sinks = sinks.v.data();
      // A feed-forward that adds nothing: its down projection is zero.
      L.ffn.dense = {{zeros.matrix(H, H, "gate"), zeros.matrix(H, H, "up")}, zeros.matrix(H, H, "down")};
      p.layers.push_back(L);
      auto backend = make_cpu_backend(p, {.threads = 2});
      auto pool = std::make_shared<KvPool>(backend->make_kv_store({1, kv_heads, D}, 8));
      KvSequence kv(pool);
      kv.reserve(int64_t(tokens.size()));
      std::vector<float> logits(tokens.size() * size_t(V));
      const SequenceStep step{tokens, &kv, {}, StepOutput::AllLogits, nullptr, logits.data(), nullptr};
      backend->forward({&step, 1});

      auto project = [&](const Floats& w, int64_t rows, int32_t token) {
        std::vector<double> y(static_cast<size_t>(rows));
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < H; ++j) y[size_t(r)] += double(w.v[size_t(r * H + j)]) * embed.v[size_t(token * H + j)];
        return y;
      };
      for (size_t t = 0; t < tokens.size(); ++t) {
        const auto q = project(wq, H, tokens[t]);
        std::vector<double> y(embed.v.begin() + tokens[t] * H, embed.v.begin() + (tokens[t] + 1) * H);
        const size_t first = window ? size_t(std::max<int64_t>(0, int64_t(t) - window + 1)) : 0;
        for (int64_t h = 0; h < heads; ++h) {
          const int64_t g = h / (heads / kv_heads);
          std::vector<double> score, value;
          for (size_t j = first; j <= t; ++j) {
            const auto k = project(wk, kv_heads * D, tokens[j]), v = project(wv, kv_heads * D, tokens[j]);
            double s = 0;
            for (int64_t d = 0; d < D; ++d) s += q[size_t(h * D + d)] * k[size_t(g * D + d)];
            score.push_back(s * 0.35);
            value.insert(value.end(), v.begin() + g * D, v.begin() + (g + 1) * D);
          }
          double top = sinks.v[size_t(h)], z = 0;
          for (double s : score) top = std::max(top, s);
          for (double s : score) z += std::exp(s - top);
          z += std::exp(sinks.v[size_t(h)] - top);  // the sink's share
          for (size_t j = 0; j < score.size(); ++j)
            for (int64_t d = 0; d < D; ++d) y[size_t(h * D + d)] += std::exp(score[j] - top) / z * value[j * size_t(D) + size_t(d)];
        }
        double ms = 0;
        for (double v : y) ms += v * v;
        const double inv = 1 / std::sqrt(ms / double(H) + 1e-6);
        for (int64_t o = 0; o < H; ++o)
          ASSERT_NEAR(logits[t * size_t(V) + size_t(o)], y[size_t(o)] * inv, precision == Precision::F32 ? 2e-5 : 2e-2)
              << "token " << t << " output " << o;
      }
    }
}

// --- Checkpoints made from the dense fixtures ----------------------------------------------

struct MoeCase {
  std::string dense;       // tests/data/arch fixture
  std::string model_type;  // qwen3_moe or mixtral
};
void PrintTo(const MoeCase& c, std::ostream* os) { *os << c.model_type << " from " << c.dense; }

// MLX's stacked experts; Hugging Face's one module per expert; transformers v5's fused
// tensors (gate_up_proj [E, 2F, H], down_proj [E, H, F]).
enum class Layout { Stacked, PerExpert, Fused };

// The dense fixture as a mixture of `experts` experts per layer (but layer 1 of qwen3_moe,
// kept dense through mlp_only_layers): expert e is the dense MLP with its down projection
// times down_scale(e), under a random router.
void write_moe_checkpoint(const fs::path& src, const MoeCase& c, Layout layout, int experts, int top_k,
                          const std::function<float(int)>& down_scale, const fs::path& dst) {
  const bool stacked = layout == Layout::Stacked;
  nlohmann::json config = read_json_file(src / "config.json");
  const bool qwen = c.model_type == "qwen3_moe";
  config["model_type"] = c.model_type;
  config["num_experts_per_tok"] = top_k;
  if (qwen) {
    config["num_experts"] = experts;
    config["moe_intermediate_size"] = config["intermediate_size"];
    config["norm_topk_prob"] = true;
    config["decoder_sparse_step"] = 1;
    config["mlp_only_layers"] = {1};
  } else {
    config["num_local_experts"] = experts;
  }
  write_file_atomic(dst / "config.json", config.dump());
  const WeightSet dense = WeightSet::open(src);
  const std::string block = qwen ? "mlp" : "block_sparse_moe";
  const char* hf_names[3] = {qwen ? "gate_proj" : "w1", qwen ? "up_proj" : "w3", qwen ? "down_proj" : "w2"};
  const char* projections[3] = {"gate_proj", "up_proj", "down_proj"};
  const int64_t hidden = config["hidden_size"].get<int64_t>();
  std::deque<std::vector<float>> keep;  // the bytes add_copy points at (stable addresses)
  SafetensorsWriter out;
  std::mt19937 rng(7);
  std::normal_distribution<float> router_init(0.0f, 0.3f);
  for (const std::string& name : dense.names()) {
    const TensorView t = dense.get(name);
    const auto mlp = name.find(".mlp.");
    const int layer = name.starts_with("model.layers.") ? std::stoi(name.substr(13)) : -1;
    if (mlp == std::string::npos || (qwen && layer == 1)) {
      out.add_copy(name, t.dtype(), t.shape(), t.bytes());
      continue;
    }
    const std::string pre = name.substr(0, mlp) + "." + block + ".";
    const int which = name.find("gate_proj") != std::string::npos ? 0 : name.find("up_proj") != std::string::npos ? 1 : 2;
    ASSERT_EQ(t.dtype(), DType::F32) << name;
    const auto* w = reinterpret_cast<const float*>(t.data);
    const size_t n = size_t(t.shape()[0] * t.shape()[1]);
    std::vector<float> all;
    if (layout == Layout::Fused && which == 1) continue;  // with the gate, below
    const float* up = which == 0 ? reinterpret_cast<const float*>(
                                       dense.get(std::string(name).replace(name.find("gate_proj"), 9, "up_proj")).data)
                                 : nullptr;
    for (int e = 0; e < experts; ++e) {
      std::vector<float> m(w, w + n);
      if (which == 2)
        for (float& v : m) v *= down_scale(e);
      if (layout == Layout::Fused) {
        all.insert(all.end(), m.begin(), m.end());
        if (which == 0) all.insert(all.end(), up, up + n);
      } else if (!stacked)
        out.add_copy(pre + "experts." + std::to_string(e) + "." + hf_names[which] + ".weight", DType::F32, t.shape(),
                     {reinterpret_cast<const uint8_t*>(keep.emplace_back(std::move(m)).data()), n * 4});
      else
        all.insert(all.end(), m.begin(), m.end());
    }
    if (stacked)
      out.add_copy(pre + "switch_mlp." + projections[which] + ".weight", DType::F32,
                   {experts, t.shape()[0], t.shape()[1]},
                   {reinterpret_cast<const uint8_t*>(keep.emplace_back(std::move(all)).data()), n * experts * 4});
    if (layout == Layout::Fused) {
      const int64_t rows = which == 0 ? 2 * t.shape()[0] : t.shape()[0];
      out.add_copy(pre + (which == 0 ? "experts.gate_up_proj" : "experts.down_proj"), DType::F32,
                   {experts, rows, t.shape()[1]},
                   {reinterpret_cast<const uint8_t*>(keep.emplace_back(std::move(all)).data()),
                    size_t(experts * rows * t.shape()[1]) * 4});
    }
    if (which == 0) {
      std::vector<float>& router = keep.emplace_back(size_t(experts * hidden));
      for (float& v : router) v = router_init(rng);
      out.add_copy(pre + "gate.weight", DType::F32, {experts, hidden},
                   {reinterpret_cast<const uint8_t*>(router.data()), router.size() * 4});
    }
  }
  out.write(dst / "model.safetensors");
}

class MoeFromDense : public ::testing::TestWithParam<MoeCase> {};

// Identical experts whose probabilities are renormalised to sum to one are the dense MLP:
// the logits must be transformers' for the dense model, through either layout.
TEST_P(MoeFromDense, IdenticalExpertsGiveTheDenseModelsLogits) {
  const fs::path src = test::data_dir() / "arch" / GetParam().dense;
  const auto ref = read_json_file(src / "reference.json");
  for (const Layout layout : {Layout::Stacked, Layout::PerExpert}) {
    SCOPED_TRACE(layout == Layout::Stacked ? "MLX stacked experts" : "one tensor per expert");
    test::TempDir dir;
    write_moe_checkpoint(src, GetParam(), layout, 4, 2, [](int) { return 1.0f; }, dir.path());
    auto model = Engine::load(dir.path(), {.threads = 2});
    EXPECT_EQ(model->config().experts, 4);
    EXPECT_LE(test::logits_error(*model, ref), 1e-4);
    EXPECT_EQ(test::greedy_continuation(*model, ref), ref["greedy_ids"].get<std::vector<int32_t>>());
  }
}

// Experts that differ: both layouts give the same bits, and a sequence the same logits
// alone and in any batch.
TEST_P(MoeFromDense, DistinctExpertsAgreeAcrossLayoutsAndBatches) {
  const fs::path src = test::data_dir() / "arch" / GetParam().dense;
  const auto scale = [](int e) { return 0.5f + 0.4f * float(e); };
  test::TempDir a, b;
  write_moe_checkpoint(src, GetParam(), Layout::Stacked, 5, 3, scale, a.path());
  write_moe_checkpoint(src, GetParam(), Layout::PerExpert, 5, 3, scale, b.path());
  auto stacked = Engine::load(a.path(), {.threads = 2});
  auto separate = Engine::load(b.path(), {.threads = 2});
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < 20; ++i) ids.push_back((i * 53 + 7) % 300 + 3);
  const auto x = test::logits_of_every_position(*stacked, ids, false);
  EXPECT_EQ(x, test::logits_of_every_position(*separate, ids, false));
  if (GetParam().model_type == "qwen3_moe") {  // (transformers v5 moves Mixtral's experts to .mlp)
    test::TempDir c, converted;
    write_moe_checkpoint(src, GetParam(), Layout::Fused, 5, 3, scale, c.path());
    EXPECT_EQ(x, test::logits_of_every_position(*Engine::load(c.path(), {.threads = 2}), ids, false))
        << "transformers v5's fused experts";
    convert_model(c.path(), converted / "mlx", {.dtype = DType::F32});
    EXPECT_TRUE(WeightSet::open(converted / "mlx").contains("model.layers.0.mlp.switch_mlp.up_proj.weight"));
    EXPECT_EQ(x, test::logits_of_every_position(*Engine::load(converted / "mlx", {.threads = 2}), ids, false))
        << "converted from transformers v5's fused experts";
  }
  EXPECT_EQ(x, test::logits_of_every_position(*stacked, ids, true)) << "prefill and decode differ";
  // The experts matter: unlike the dense model's logits.
  const auto ref = read_json_file(src / "reference.json");
  EXPECT_GT(test::logits_error(*stacked, ref), 1e-2);
  for (const Precision p : {Precision::Fast, Precision::F32}) {
    auto model = Engine::load(a.path(), {.threads = 2, .precision = p});
    EXPECT_GT(test::expect_batch_invariance(*model, 3), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, MoeFromDense,
                         ::testing::Values(MoeCase{"qwen3-qknorm", "qwen3_moe"}, MoeCase{"llama3-rope", "mixtral"}),
                         [](const auto& info) { return test::param_name(info.param.model_type); });

// `convert` writes MLX's layout: the experts stacked (switch_mlp), quantized per expert,
// Qwen3-MoE's routers at 8 bits (mlx-lm's quant_predicate), and the result runs.
TEST(MixtureOfExperts, ConvertStacksAndQuantizesTheExperts) {
  const fs::path src = test::data_dir() / "arch" / "qwen3-qknorm";
  test::TempDir hf, out;
  write_moe_checkpoint(src, {"qwen3-qknorm", "qwen3_moe"}, Layout::PerExpert, 4, 2, [](int e) { return 0.6f + 0.3f * float(e); },
                       hf.path());
  convert_model(hf.path(), out / "f32", {.dtype = DType::F32});
  ConvertOptions q4;
  q4.quant = QuantSpec{QuantMode::Affine, 4, 32};
  convert_model(hf.path(), out / "q4", q4);

  const WeightSet f32 = WeightSet::open(out / "f32");
  EXPECT_EQ(f32.get("model.layers.0.mlp.switch_mlp.gate_proj.weight").shape(), (std::vector<int64_t>{4, 160, 64}));
  EXPECT_EQ(f32.get("model.layers.2.mlp.switch_mlp.down_proj.weight").shape(), (std::vector<int64_t>{4, 64, 160}));
  EXPECT_FALSE(f32.contains("model.layers.0.mlp.experts.0.gate_proj.weight"));
  EXPECT_TRUE(f32.contains("model.layers.1.mlp.gate_proj.weight"));  // the dense layer stays
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < 16; ++i) ids.push_back((i * 41 + 5) % 300 + 3);
  auto original = Engine::load(hf.path(), {.threads = 2});
  auto stacked = Engine::load(out / "f32", {.threads = 2});
  const auto want = test::logits_of_every_position(*original, ids, false);
  EXPECT_EQ(test::logits_of_every_position(*stacked, ids, false), want);

  const WeightSet q = WeightSet::open(out / "q4");
  EXPECT_EQ(q.get("model.layers.0.mlp.switch_mlp.up_proj.weight").shape(), (std::vector<int64_t>{4, 160, 8}));
  EXPECT_EQ(q.get("model.layers.0.mlp.switch_mlp.up_proj.scales").shape(), (std::vector<int64_t>{4, 160, 2}));
  EXPECT_EQ(q.get("model.layers.0.mlp.gate.weight").shape(), (std::vector<int64_t>{4, 16}));  // 8 bits, g64
  const auto config = read_json_file(out / "q4" / "config.json");
  EXPECT_EQ(config["quantization"]["model.layers.0.mlp.gate"]["bits"], 8);
  EXPECT_FALSE(config["quantization"].contains("model.layers.1.mlp.gate"));  // dense: no router
  EXPECT_NO_THROW(Engine::load(out / "q4", {.threads = 2}));

  // Quantized per expert: identical experts quantize as the dense MLP does, so the 4-bit
  // mixture gives the 4-bit dense model's logits.
  test::TempDir same;
  write_moe_checkpoint(src, {"qwen3-qknorm", "qwen3_moe"}, Layout::PerExpert, 4, 2, [](int) { return 1.0f; }, same.path());
  convert_model(same.path(), out / "same-q4", q4);
  convert_model(src, out / "dense-q4", q4);
  auto moe = Engine::load(out / "same-q4", {.threads = 2});
  auto dense = Engine::load(out / "dense-q4", {.threads = 2});
  const auto got = test::logits_of_every_position(*moe, ids, false);
  const auto dense_logits = test::logits_of_every_position(*dense, ids, false);
  double diff = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff = std::max(diff, double(std::abs(got[i] - dense_logits[i])));
    scale = std::max(scale, double(std::abs(dense_logits[i])));
  }
  EXPECT_LT(diff / scale, 1e-4) << "the 4-bit mixture differs from the 4-bit dense model";
}

// inspect: a token reads every weight but only top_k / experts of the experts' tensors.
TEST(MixtureOfExperts, InspectCountsWhatATokenReads) {
  test::TempDir dir;
  write_moe_checkpoint(test::data_dir() / "arch" / "qwen3-qknorm", {"qwen3-qknorm", "qwen3_moe"}, Layout::PerExpert, 4, 1,
                       [](int) { return 1.0f; }, dir.path());
  const ModelReport r = build_model_report(dir.path());
  const int64_t expert_params = 2 * 4 * 3 * 160 * 64;  // 2 mixture layers, 4 experts, 3 projections
  EXPECT_EQ(r.active_parameters, r.parameters - expert_params * 3 / 4);
  // f32 weights; the untied embedding table is looked up, not read.
  EXPECT_EQ(r.active_weight_bytes, r.weight_bytes - uint64_t(expert_params * 3 / 4) * 4 - 320 * 64 * 4);
  EXPECT_NE(model_report_to_text(r).find("4 per layer in 2 of 3 layers, 1 per token"), std::string::npos)
      << model_report_to_text(r);
}

// A small gpt_oss in mlx-community's layouts (synthesized: float, and MXFP4 everywhere but
// the 8-bit affine routers): it loads, sliding and full layers alternate, a position's
// logits are the same through prefill and decode, and alone or in any batch.
TEST(GptOss, SynthesizedModelsRunInMlxLayouts) {
  test::TempDir dir;
  nlohmann::json config = {
      {"model_type", "gpt_oss"}, {"hidden_size", 64}, {"intermediate_size", 64}, {"num_hidden_layers", 3},
      {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"head_dim", 16}, {"num_local_experts", 4},
      {"num_experts_per_tok", 2}, {"vocab_size", 320}, {"rms_norm_eps", 1e-5}, {"sliding_window", 6},
      {"rope_theta", 150000.0}, {"max_position_embeddings", 4096},
      {"rope_scaling", {{"rope_type", "yarn"}, {"factor", 32.0}, {"original_max_position_embeddings", 4096},
                        {"beta_fast", 32.0}, {"beta_slow", 1.0}, {"truncate", false}}}};
  write_file_atomic(dir / "config.json", config.dump());
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < 20; ++i) ids.push_back((i * 29 + 3) % 300 + 3);
  for (const bool mxfp4 : {false, true}) {
    SCOPED_TRACE(mxfp4 ? "mxfp4" : "float");
    SynthOptions o;
    o.like = (dir / "config.json").string();
    o.dtype = DType::F32;
    if (mxfp4) o.quant = QuantSpec{QuantMode::MxFp4, 4, 32};
    const fs::path model_dir = dir / (mxfp4 ? "mxfp4" : "float");
    synth_model(o, model_dir);
    if (mxfp4) {
      const auto written = read_json_file(model_dir / "config.json");
      EXPECT_EQ(written["quantization"]["model.layers.0.mlp.router"]["bits"], 8);
      EXPECT_EQ(written["quantization"]["mode"], "mxfp4");
    }
    auto model = Engine::load(model_dir, {.threads = 2});
    const ModelConfig& c = model->config();
    EXPECT_EQ(c.layer_types, (std::vector<std::string>{"sliding_attention", "full_attention", "sliding_attention"}));
    EXPECT_EQ(c.experts, 4);
    const auto prefill = test::logits_of_every_position(*model, ids, false);
    EXPECT_EQ(prefill, test::logits_of_every_position(*model, ids, true)) << "prefill and decode differ";
    EXPECT_GT(test::expect_batch_invariance(*model, 11), 0);
  }
  // OpenAI's original layout (fused, interleaved MXFP4 blocks) is named, not misread.
  const fs::path openai = dir / "openai";
  fs::create_directory(openai);
  fs::copy_file(dir / "float" / "config.json", openai / "config.json");
  const WeightSet synthesized = WeightSet::open(dir / "float");
  SafetensorsWriter out;
  for (const std::string& name : synthesized.names()) {
    if (name.find(".mlp.experts.") != std::string::npos) continue;
    const TensorView t = synthesized.get(name);
    out.add_copy(name, t.dtype(), t.shape(), t.bytes());
  }
  const std::vector<uint8_t> blocks(4 * 128 * 2 * 16, 0x11);
  for (int layer = 0; layer < 3; ++layer)
    out.add_copy("model.layers." + std::to_string(layer) + ".mlp.experts.gate_up_proj_blocks", DType::U8,
                 {4, 128, 2, 16}, blocks);
  out.write(openai / "model.safetensors");
  try {
    Engine::load(openai, {.threads = 2});
    FAIL() << "loaded OpenAI's layout as if it were MLX's";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gate_up_proj_blocks' is OpenAI's original gpt-oss layout"), std::string::npos)
        << e.what();
  }
}

// gpt_oss as transformers saves it: each layer's experts in gate_up_proj [E, H, 2F]
// (transposed, gate and up in alternate columns) and down_proj [E, F, H], with their biases.
// Built here from a synthesized model in MLX's layout: the same logits, read in place and
// after `convert` (which writes MLX's layout back).
TEST(GptOss, TransformersLayoutLoadsAndConverts) {
  test::TempDir dir;
  const nlohmann::json config = {
      {"model_type", "gpt_oss"}, {"hidden_size", 64}, {"intermediate_size", 48}, {"num_hidden_layers", 2},
      {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"head_dim", 16}, {"num_local_experts", 4},
      {"num_experts_per_tok", 2}, {"vocab_size", 320}, {"rms_norm_eps", 1e-5}, {"sliding_window", 6},
      {"rope_theta", 150000.0}, {"max_position_embeddings", 4096}, {"swiglu_limit", 1.0}};
  write_file_atomic(dir / "config.json", config.dump());
  SynthOptions o;
  o.like = (dir / "config.json").string();
  o.dtype = DType::F32;
  synth_model(o, dir / "mlx");
  const WeightSet mlx = WeightSet::open(dir / "mlx");
  const fs::path hf = dir / "hf";
  fs::create_directory(hf);
  fs::copy_file(dir / "mlx" / "config.json", hf / "config.json");
  const int64_t E = 4, H = 64, F = 48;
  std::deque<std::vector<float>> keep;
  SafetensorsWriter out;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, std::vector<float> v) {
    const auto& kept = keep.emplace_back(std::move(v));
    out.add_copy(name, DType::F32, std::move(shape), {reinterpret_cast<const uint8_t*>(kept.data()), kept.size() * 4});
  };
  auto floats = [&](const std::string& name) {
    const TensorView t = mlx.get(name);
    const auto* p = reinterpret_cast<const float*>(t.data);
    return std::vector<float>(p, p + t.numel());
  };
  for (const std::string& name : mlx.names())
    if (name.find(".mlp.experts.") == std::string::npos) {
      const TensorView t = mlx.get(name);
      out.add_copy(name, t.dtype(), t.shape(), t.bytes());
    }
  for (int layer = 0; layer < 2; ++layer) {
    const std::string p = "model.layers." + std::to_string(layer) + ".mlp.experts.";
    const auto gate = floats(p + "gate_proj.weight"), up = floats(p + "up_proj.weight");
    const auto down = floats(p + "down_proj.weight");
    const auto gate_b = floats(p + "gate_proj.bias"), up_b = floats(p + "up_proj.bias");
    std::vector<float> gate_up(size_t(E * H * 2 * F)), gate_up_b(size_t(E * 2 * F)), down_t(size_t(E * F * H));
    for (int64_t e = 0; e < E; ++e)
      for (int64_t i = 0; i < F; ++i) {
        for (int64_t h = 0; h < H; ++h) {
          gate_up[size_t((e * H + h) * 2 * F + 2 * i)] = gate[size_t((e * F + i) * H + h)];
          gate_up[size_t((e * H + h) * 2 * F + 2 * i + 1)] = up[size_t((e * F + i) * H + h)];
          down_t[size_t((e * F + i) * H + h)] = down[size_t((e * H + h) * F + i)];
        }
        gate_up_b[size_t(e * 2 * F + 2 * i)] = gate_b[size_t(e * F + i)];
        gate_up_b[size_t(e * 2 * F + 2 * i + 1)] = up_b[size_t(e * F + i)];
      }
    add(p + "gate_up_proj", {E, H, 2 * F}, std::move(gate_up));
    add(p + "gate_up_proj_bias", {E, 2 * F}, std::move(gate_up_b));
    add(p + "down_proj", {E, F, H}, std::move(down_t));
    add(p + "down_proj_bias", {E, H}, floats(p + "down_proj.bias"));
  }
  out.write(hf / "model.safetensors");

  std::vector<int32_t> ids;
  for (int32_t i = 0; i < 14; ++i) ids.push_back((i * 31 + 9) % 300 + 3);
  const auto want = test::logits_of_every_position(*Engine::load(dir / "mlx", {.threads = 2}), ids, false);
  EXPECT_EQ(test::logits_of_every_position(*Engine::load(hf, {.threads = 2}), ids, false), want);
  convert_model(hf, dir / "converted", {.dtype = DType::F32});
  const WeightSet converted = WeightSet::open(dir / "converted");
  EXPECT_EQ(converted.get("model.layers.1.mlp.experts.gate_proj.weight").shape(), (std::vector<int64_t>{E, F, H}));
  EXPECT_EQ(converted.get("model.layers.1.mlp.experts.down_proj.bias").shape(), (std::vector<int64_t>{E, H}));
  EXPECT_FALSE(converted.contains("model.layers.1.mlp.experts.gate_up_proj"));
  EXPECT_EQ(test::logits_of_every_position(*Engine::load(dir / "converted", {.threads = 2}), ids, false), want);
}

// exp(mean negative log-likelihood) of ids[1..] given what precedes each, from one pass.
double perplexity_of(Engine& model, const std::vector<int32_t>& ids) {
  const auto logits = test::logits_of_every_position(model, ids, false);
  const size_t V = logits.size() / ids.size();
  double nll = 0;
  for (size_t t = 0; t + 1 < ids.size(); ++t) {
    const float* row = &logits[t * V];
    const double top = *std::max_element(row, row + V);
    double z = 0;
    for (size_t v = 0; v < V; ++v) z += std::exp(double(row[v]) - top);
    nll += top + std::log(z) - double(row[size_t(ids[t + 1])]);
  }
  return std::exp(nll / double(ids.size() - 1));
}

// The fast path against the exact f32 path on the same quantized weights (as the bundled
// model's perplexity test): each mixture converted to 4-bit (gpt-oss: MXFP4, its routers
// 8-bit; and affine) scores a text the float model wrote (its own greedy continuation)
// within 1 %. (These random routers have near ties, where the fast path's rounding can
// pick another expert: gpt-oss's logits then differ by up to 40 % at a few positions, and
// by 0.1 % with every expert chosen.)
TEST(MixtureOfExperts, QuantizedFastPathPerplexityWithinOnePercent) {
  struct Case {
    std::string name;
    std::function<void(const fs::path&)> make;
    QuantSpec quant;
  };
  const fs::path arch = test::data_dir() / "arch";
  const auto scale = [](int e) { return 0.5f + 0.4f * float(e); };
  const std::function<void(const fs::path&)> gpt_oss = [&](const fs::path& d) {
    const nlohmann::json config = {
        {"model_type", "gpt_oss"}, {"hidden_size", 64}, {"intermediate_size", 64}, {"num_hidden_layers", 3},
        {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"head_dim", 16}, {"num_local_experts", 4},
        {"num_experts_per_tok", 2}, {"vocab_size", 320}, {"sliding_window", 6}, {"swiglu_limit", 7.0},
        {"rms_norm_eps", 1e-5}, {"rope_theta", 150000.0}, {"max_position_embeddings", 4096}};
    write_file_atomic(d.parent_path() / "like.json", config.dump());
    SynthOptions o;
    o.like = (d.parent_path() / "like.json").string();
    o.dtype = DType::F32;
    fs::remove(d);
    synth_model(o, d);
  };
  const std::vector<Case> cases = {
      {"qwen3_moe",
       [&](const fs::path& d) {
         write_moe_checkpoint(arch / "qwen3-qknorm", {"qwen3-qknorm", "qwen3_moe"}, Layout::PerExpert, 5, 3, scale, d);
       },
       QuantSpec{QuantMode::Affine, 4, 64}},
      {"mixtral",
       [&](const fs::path& d) {
         write_moe_checkpoint(arch / "llama3-rope", {"llama3-rope", "mixtral"}, Layout::PerExpert, 5, 3, scale, d);
       },
       QuantSpec{QuantMode::Affine, 4, 64}},
      {"gpt_oss", gpt_oss, QuantSpec{QuantMode::MxFp4, 4, 32}},
      {"gpt_oss affine", gpt_oss, QuantSpec{QuantMode::Affine, 4, 64}}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    test::TempDir dir;
    fs::create_directories(dir / "hf");
    c.make(dir / "hf");
    ConvertOptions q;
    q.quant = c.quant;
    convert_model(dir / "hf", dir / "q", q);
    auto reference = Engine::load(dir / "hf", {.threads = 2, .precision = Precision::F32});
    // A text the float model finds likely: its greedy continuation of a short prompt.
    std::vector<int32_t> ids = {5, 17, 230, 41, 99, 3, 150, 77};
    for (int i = 0; i < 120; ++i) {
      const auto logits = test::logits_of_every_position(*reference, ids, false);
      const size_t V = logits.size() / ids.size();
      const float* last = &logits[logits.size() - V];
      ids.push_back(int32_t(std::max_element(last, last + V) - last));
    }
    auto exact = Engine::load(dir / "q", {.threads = 2, .precision = Precision::F32});
    auto fast = Engine::load(dir / "q", {.threads = 2, .precision = Precision::Fast});
    const double want = perplexity_of(*exact, ids), got = perplexity_of(*fast, ids);
    std::printf("[ %s ] perplexity: float model %.3f; quantized f32 path %.4f, fast path %.4f (%+.3f %%)\n",
                c.name.c_str(), perplexity_of(*reference, ids), want, got, 100 * (got / want - 1));
    EXPECT_LE(std::abs(got / want - 1), 0.01);
  }
}

TEST(MixtureOfExperts, MissingExpertsAreNamed) {
  const fs::path src = test::data_dir() / "arch" / "qwen3-qknorm";
  test::TempDir dir;
  write_moe_checkpoint(src, {"qwen3-qknorm", "qwen3_moe"}, Layout::PerExpert, 4, 2, [](int) { return 1.0f; }, dir.path());
  nlohmann::json config = read_json_file(dir / "config.json");
  config["num_experts"] = 6;  // two more than the file has
  write_file_atomic(dir / "config.json", config.dump());
  try {
    Engine::load(dir.path(), {.threads = 2});
    FAIL() << "loaded a checkpoint with experts missing";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.gate.weight"), std::string::npos) << e.what();
  }
  config["num_experts"] = 4;
  config["num_experts_per_tok"] = 5;
  write_file_atomic(dir / "config.json", config.dump());
  EXPECT_THROW(Engine::load(dir.path(), {.threads = 2}), Error);
}

}  // namespace
}  // namespace mlxcpp
