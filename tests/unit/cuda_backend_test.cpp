// The CUDA backend against the CPU engine's references (label "cuda": these need a GPU
// and run on the GPU machine; CI compiles them). The same fixtures as the CPU tests:
//  - every weight format's product (matrix-vector and dequantize + cuBLAS) against the
//    exact f32 CPU reference, at both precisions;
//  - the tiny transformers models of every architecture: logits and greedy tokens;
//  - the two real models: transformers' greedy text exactly (f32) and the reference
//    perplexities (f32 within 0.1 %, the fast bf16/int8 path within 1 %);
//  - mixtures of experts (qwen3_moe, mixtral, gpt_oss with its sinks and clamped SwiGLU),
//    synthesized in float and quantized, against the CPU engine;
//  - refusing a model larger than the free GPU memory, with the numbers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>

#include "backend/backend.h"
#include "backend/cpu/matmul.h"
#include "backend/cuda/device_ops.h"
#include "backend/device_info.h"
#include "convert/synth.h"
#include "runtime/constraints.h"
#include "runtime/engine.h"
#include "quant/quantize_tensor.h"
#include "runtime/generator.h"
#include "runtime/perplexity.h"
#include "backend/cpu/draw.h"
#include "runtime/sampler.h"
#include "util/thread_pool.h"
#include "model_checks.h"
#include "sampling_grid.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/files.h"
#include "util/float_bits.h"

namespace mlxcpp {
namespace {

namespace fs = std::filesystem;

bool have_gpu() { return !cuda_devices().empty(); }
#define REQUIRE_GPU() \
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device"

struct Format {
  std::optional<QuantSpec> spec;
  DType dtype;  // float weights: their dtype; affine: the scales' dtype
};

std::vector<Format> every_format() {
  std::vector<Format> f;
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int g : {32, 64, 128}) f.push_back({QuantSpec{QuantMode::Affine, bits, g}, DType::BF16});
  for (int bits : {4, 8})
    for (DType t : {DType::F16, DType::F32}) f.push_back({QuantSpec{QuantMode::Affine, bits, 64}, t});
  for (QuantMode m : {QuantMode::MxFp4, QuantMode::MxFp8, QuantMode::NvFp4}) f.push_back({default_quant_spec(m), DType::U8});
  for (DType t : {DType::F32, DType::F16, DType::BF16}) f.push_back({std::nullopt, t});
  return f;
}

TEST(CudaKernels, EveryFormatMatchesTheCpuReference) {
  REQUIRE_GPU();
  const int64_t rows = 70, cols = 512;  // 70 rows: the 2-rows-per-warp kernel's tail too
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(size_t(rows * cols));
  for (auto& v : w) v = 0.05f * nd(rng);
  ThreadPool pool(2);
  for (const Format& f : every_format()) {
    SCOPED_TRACE((f.spec ? f.spec->to_string() : std::string("float")) + " " + std::string(dtype_name(f.dtype)));
    std::vector<uint8_t> packed, scales, biases;
    std::vector<float> bias(static_cast<size_t>(rows));
    for (auto& b : bias) b = nd(rng);
    WeightMatrix m;
    m.name = "test";
    m.rows = rows;
    m.cols = cols;
    m.quant = f.spec;
    m.dtype = f.dtype;
    m.bias = bias.data();
    if (f.spec) {
      const QuantSpec& s = *f.spec;
      packed.resize(size_t(rows * cols * s.bits / 8));
      scales.resize(size_t(rows * cols / s.group_size) * dtype_size(f.dtype));
      biases.resize(scales.size());
      quantize_matrix(w.data(), size_t(rows), size_t(cols), s, s.mode == QuantMode::Affine ? f.dtype : DType::BF16,
                      packed.data(), scales.data(), biases.data());
      m.scales = scales.data();
      m.biases = s.has_biases() ? biases.data() : nullptr;
    } else {
      packed.resize(size_t(rows * cols) * dtype_size(f.dtype));
      for (size_t i = 0; i < w.size(); ++i) {
        if (f.dtype == DType::F32) std::memcpy(&packed[i * 4], &w[i], 4);
        else {
          const uint16_t h = f.dtype == DType::F16 ? f32_to_f16(w[i]) : f32_to_bf16(w[i]);
          std::memcpy(&packed[i * 2], &h, 2);
        }
      }
    }
    m.data = packed.data();
    for (bool f32 : {true, false}) {
      auto dev = make_cuda_linear(to_matrix_plan(m), f32);
      for (int64_t n : {1, 3, 20}) {
        SCOPED_TRACE(std::string(f32 ? "f32" : "fast") + " rows " + std::to_string(n));
        std::vector<float> x(size_t(n * cols)), ref(size_t(n * rows)), got(size_t(n * rows)), wrow(static_cast<size_t>(cols));
        for (auto& v : x) v = nd(rng);
        cpu::matmul(m, x.data(), n, ref.data(), pool, Precision::F32);
        dev->run(x.data(), n, got.data());
        const bool int8_path = !f32 && n <= 4 && f.spec && f.spec->mode == QuantMode::Affine &&
                               (f.spec->bits == 4 || f.spec->bits == 8);
        const bool bf16_path = !f32 && n > 4;
        for (int64_t r = 0; r < rows; ++r) {
          m.dequantize_row(r, wrow.data());
          for (int64_t i = 0; i < n; ++i) {
            // f32: summation order only. int8 activations (one code per value, blocks of
            // 32): the rounding, d/2 with d = the block's max|x|/127, times Σ|w| over the
            // block. bf16 weights and activations: 2^-8 relative each.
            double tol = 1e-6, wx = 0;
            for (int64_t k0 = 0; k0 < cols; k0 += 32) {
              double amax = 0, wabs = 0;
              for (int64_t k = k0; k < k0 + 32; ++k) {
                const double xv = x[size_t(i * cols + k)];
                wabs += std::abs(wrow[size_t(k)]);
                wx += std::abs(wrow[size_t(k)] * xv);
                amax = std::max(amax, std::abs(xv));
              }
              if (int8_path) tol += amax / 127 / 2 * wabs;
            }
            tol += 1e-5 * wx;
            if (bf16_path) tol += wx / 128.0;
            ASSERT_NEAR(got[size_t(i * rows + r)], ref[size_t(i * rows + r)], tol) << "row " << r << " input " << i;
          }
        }
      }
    }
  }
}

// A decode product's shape and formats, and what it checks: every token's outputs within
// `tolerance(Σ|w·x|, block rounding)` of the f32 product, and the same bits whatever the
// number of tokens in the product and wherever the token sits among them.
struct DecodeProductCase {
  int64_t rows, cols;
  std::vector<Format> formats;
  int tensor_core_rows;  // the bf16 tensor-core kernel from this many rows (0: never)
};

void expect_same_bits_at_any_count(const DecodeProductCase& c) {
  const int64_t rows = c.rows, cols = c.cols, most = 100;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(size_t(rows * cols)), x(size_t(most * cols)), bias(static_cast<size_t>(rows));
  for (auto& v : w) v = 0.05f * nd(rng);
  for (auto& v : x) v = nd(rng);
  for (auto& v : bias) v = nd(rng);
  ThreadPool pool(2);
  for (const Format& f : c.formats) {
    SCOPED_TRACE(f.spec->to_string() + " " + std::string(dtype_name(f.dtype)) + " " + std::to_string(rows) + " x " +
                 std::to_string(cols));
    const QuantSpec& s = *f.spec;
    std::vector<uint8_t> packed(size_t(rows * cols * s.bits / 8));
    std::vector<uint8_t> scales(size_t(rows * cols / s.group_size) * dtype_size(f.dtype)), biases(scales.size());
    quantize_matrix(w.data(), size_t(rows), size_t(cols), s, f.dtype, packed.data(), scales.data(), biases.data());
    WeightMatrix m;
    m.name = "test";
    m.rows = rows;
    m.cols = cols;
    m.quant = f.spec;
    m.dtype = f.dtype;
    m.data = packed.data();
    m.scales = scales.data();
    m.biases = biases.data();
    m.bias = bias.data();
    auto dev = make_cuda_linear(to_matrix_plan(m), false, c.tensor_core_rows, /*decode=*/true);
    std::vector<float> all(size_t(most * rows)), ref(size_t(most * rows)), wrow(static_cast<size_t>(cols));
    dev->run(x.data(), most, all.data());
    cpu::matmul(m, x.data(), most, ref.data(), pool, Precision::F32);
    const int64_t row_step = rows > 1000 ? 13 : 1;
    for (int64_t r = 0; r < rows; r += row_step) {
      m.dequantize_row(r, wrow.data());
      for (int64_t i = 0; i < most; i += 7) {
        // bf16 rounding of weights and activations (2^-8 each), or the int8 activation
        // blocks' rounding (d/2 per value, d = the block's max|x|/127).
        double wx = 0, blocks = 0;
        for (int64_t k0 = 0; k0 < cols; k0 += 32) {
          double amax = 0, wabs = 0;
          for (int64_t k = k0; k < k0 + 32; ++k) {
            wx += std::abs(double(wrow[size_t(k)]) * x[size_t(i * cols + k)]);
            wabs += std::abs(wrow[size_t(k)]);
            amax = std::max(amax, std::abs(double(x[size_t(i * cols + k)])));
          }
          blocks += amax / 127 / 2 * wabs;
        }
        const double tol = 1e-5 + 1e-5 * wx + (c.tensor_core_rows > 0 ? wx / 128.0 : blocks);
        ASSERT_NEAR(all[size_t(i * rows + r)], ref[size_t(i * rows + r)], tol) << "row " << r << " token " << i;
      }
    }
    for (int64_t n : {1, 2, 5, 7, 8, 9, 16, 17, 31, 33, 64, 65}) {
      for (int64_t first : {int64_t(0), most - n, (most - n) / 3}) {
        std::vector<float> got(size_t(n * rows));
        dev->run(x.data() + first * cols, n, got.data());
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(0, std::memcmp(&got[size_t(i * rows)], &all[size_t((first + i) * rows)], size_t(rows) * 4))
              << "token " << first + i << " at " << i << " of " << n;
      }
    }
  }
}

// The bf16 tensor-core decode product (`--fast-batches`; 4-bit affine, 16-bit scales), the
// same bits at any count within its own path. 2,944 columns: 23 blocks of 128, so the
// kernel's 4 K slices are uneven; 200 rows: a partial 32-row block.
TEST(CudaKernels, TensorCoreProductGivesEveryTokenTheSameBitsAtAnyCount) {
  REQUIRE_GPU();
  expect_same_bits_at_any_count({200,
                                 2944,
                                 {{QuantSpec{QuantMode::Affine, 4, 32}, DType::BF16},
                                  {QuantSpec{QuantMode::Affine, 4, 64}, DType::BF16},
                                  {QuantSpec{QuantMode::Affine, 4, 128}, DType::BF16},
                                  {QuantSpec{QuantMode::Affine, 4, 64}, DType::F16}},
                                 1});
}

// The batch-invariant decode products: one token alone takes the dp4a kernel, up to 31 its
// 4-token tiles, 32 or more the int8 tensor-core kernel (4-bit, groups of 64 or more; sm_90)
// — and every token gets the same bits from each. 768 columns: 24 chunks, so 8 of the 32
// slices (one block of each cluster) are empty; 2,944: 92 chunks, slices of 2 and 3 and a
// partial last stripe; 200 and 4,200 rows: partial 64-row tiles; 33, 65 and 100 tokens:
// partial 32-token tiles. 8-bit and groups of 32 stay on the dp4a tiles.
TEST(CudaKernels, DecodeProductsGiveEveryTokenTheSameBitsWhicheverKernelRuns) {
  REQUIRE_GPU();
  const std::vector<Format> formats = {{QuantSpec{QuantMode::Affine, 4, 64}, DType::BF16},
                                       {QuantSpec{QuantMode::Affine, 4, 128}, DType::F16},
                                       {QuantSpec{QuantMode::Affine, 4, 64}, DType::F32},
                                       {QuantSpec{QuantMode::Affine, 4, 32}, DType::BF16},
                                       {QuantSpec{QuantMode::Affine, 8, 64}, DType::BF16}};
  for (int64_t cols : {768, 2944}) expect_same_bits_at_any_count({200, cols, formats, 0});
  expect_same_bits_at_any_count({4200, 4096, {formats[0]}, 0});
}

// Decode attention at the shapes of real models (8B's 32 × 8 heads of 128, Qwen3-MoE's 8
// query heads per KV head, gpt-oss's 64-value heads, Gemma 3's 256) and contexts up to 4k,
// with a sliding window, sinks and a soft-cap: against a float64 reference over the same
// bf16 keys and values, the spans of the decode kernel against one span (the prefill
// kernel), and each row's bits the same alone as in the batch.
TEST(CudaKernels, DecodeAttentionMatchesAReferenceAndIsTheSameInAnyBatch) {
  REQUIRE_GPU();
  struct Shape {
    int64_t H, KV, D;
  };
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const std::vector<int32_t> positions = {0, 5, 16, 100, 1000, 2047, 4000};
  auto span_of = [](int64_t pos) {  // the backend's rule: at most 64 spans, 16 positions at least
    const int64_t per = (pos + 64) / 64;
    return int32_t(std::max<int64_t>(16, (per + 15) / 16 * 16));
  };
  for (const Shape s : {Shape{32, 8, 128}, Shape{32, 4, 128}, Shape{64, 8, 64}, Shape{8, 4, 256}, Shape{4, 2, 32}, Shape{4, 2, 16}})
    for (int variant = 0; variant < 3; ++variant) {
      SCOPED_TRACE("H " + std::to_string(s.H) + " KV " + std::to_string(s.KV) + " D " + std::to_string(s.D) +
                   " variant " + std::to_string(variant));
      AttentionProblem p;
      p.heads = s.H, p.kv_heads = s.KV, p.head_dim = s.D;
      p.scale = float(1.0 / std::sqrt(double(s.D)));
      if (variant == 1) {
        p.window = 300;
        for (int64_t h = 0; h < s.H; ++h) p.sinks.push_back(nd(rng));
      }
      if (variant == 2) p.softcap = 5.0f;
      for (int32_t pos : positions) {
        p.positions.push_back(pos);
        p.spans.push_back(span_of(pos));
        std::vector<float> k(size_t((pos + 1) * s.KV * s.D)), v(k.size());
        // Keys with a per-position offset so that some positions dominate the softmax.
        for (size_t e = 0; e < k.size(); ++e) k[e] = nd(rng) * (1.0f + 2.0f * float((e / size_t(s.D * s.KV)) % 7 == 0));
        for (auto& x : v) x = nd(rng);
        p.keys.push_back(std::move(k));
        p.values.push_back(std::move(v));
      }
      for (size_t e = 0; e < positions.size() * size_t(s.H * s.D); ++e) p.queries.push_back(nd(rng));
      const std::vector<float> got = cuda_attention(p);
      AttentionProblem one_span = p;
      std::fill(one_span.spans.begin(), one_span.spans.end(), 0);
      const std::vector<float> whole = cuda_attention(one_span);
      const int64_t G = s.H / s.KV;
      for (size_t r = 0; r < positions.size(); ++r) {
        const int64_t pos = positions[r], first = p.window > 0 ? std::max<int64_t>(0, pos - p.window + 1) : 0;
        for (int64_t h = 0; h < s.H; ++h) {
          const float* q = &p.queries[(r * size_t(s.H) + size_t(h)) * size_t(s.D)];
          std::vector<double> score;
          double top = p.sinks.empty() ? -1e300 : p.sinks[size_t(h)];
          for (int64_t t = first; t <= pos; ++t) {
            double dot = 0;
            for (int64_t d = 0; d < s.D; ++d)
              dot += double(q[d]) * bf16_to_f32(f32_to_bf16(p.keys[r][size_t((t * s.KV + h / G) * s.D + d)]));
            dot *= p.scale;
            if (p.softcap > 0) dot = p.softcap * std::tanh(dot / p.softcap);
            score.push_back(dot);
            top = std::max(top, dot);
          }
          double z = p.sinks.empty() ? 0.0 : std::exp(p.sinks[size_t(h)] - top);
          for (double& x : score) z += x = std::exp(x - top);
          for (int64_t d = 0; d < s.D; ++d) {
            double ref = 0;
            for (int64_t t = first; t <= pos; ++t)
              ref += score[size_t(t - first)] * bf16_to_f32(f32_to_bf16(p.values[r][size_t((t * s.KV + h / G) * s.D + d)]));
            ref /= z;
            const size_t at = (r * size_t(s.H) + size_t(h)) * size_t(s.D) + size_t(d);
            ASSERT_NEAR(got[at], ref, 1e-4) << "position " << pos << " head " << h << " value " << d;
            ASSERT_NEAR(whole[at], ref, 1e-4) << "one span: position " << pos << " head " << h << " value " << d;
          }
        }
      }
      // Each row alone: the same bits as in the batch of all of them.
      for (size_t r = 0; r < positions.size(); r += 2) {
        AttentionProblem alone = p;
        alone.positions = {p.positions[r]};
        alone.spans = {p.spans[r]};
        alone.keys = {p.keys[r]};
        alone.values = {p.values[r]};
        alone.queries.assign(p.queries.begin() + int64_t(r) * s.H * s.D, p.queries.begin() + int64_t(r + 1) * s.H * s.D);
        const std::vector<float> solo = cuda_attention(alone);
        ASSERT_EQ(0, std::memcmp(solo.data(), &got[r * size_t(s.H * s.D)], solo.size() * 4)) << "position " << positions[r];
      }
    }
}

struct ArchCase {
  std::string name;
  Precision precision;
};

void PrintTo(const ArchCase& c, std::ostream* os) { *os << c.name << (c.precision == Precision::F32 ? " f32" : " fast"); }

class CudaArchParity : public ::testing::TestWithParam<ArchCase> {};

TEST_P(CudaArchParity, LogitsAndGreedyMatchTransformers) {
  REQUIRE_GPU();
  const fs::path dir = test::data_dir() / "arch" / GetParam().name;
  const bool f32 = GetParam().precision == Precision::F32;
  const auto ref = read_json_file(dir / "reference.json");
  auto model = Engine::load(dir, {.threads = 2, .precision = GetParam().precision, .device = Device::Cuda});
  ASSERT_EQ(model->device(), Device::Cuda) << "fell back to the CPU";
  const double error = test::logits_error(*model, ref);
  RecordProperty("relative_error", std::to_string(error));
  std::printf("[ %s %s ] max |diff| / max |logit| = %.3g\n", GetParam().name.c_str(), f32 ? "f32" : "fast", error);
  // f32: the reference path, same bound as the CPU engine. fast: bf16 weights and
  // activations in the prefill products (2^-8 relative each) and a bf16 KV cache.
  EXPECT_LE(error, f32 ? 1e-4 : 2.5e-2);
  // Greedy continuation through the device KV cache, one token at a time (the decode
  // graph path), against transformers' tokens.
  EXPECT_EQ(test::greedy_continuation(*model, ref), ref["greedy_ids"].get<std::vector<int32_t>>());
}

std::vector<ArchCase> arch_cases() {
  std::vector<ArchCase> out;
  for (const char* a : {"llama3-rope", "llama-tied-bias", "mistral-sliding", "qwen2-bias", "qwen3-qknorm", "phi3-longrope",
                        "gemma", "gemma2-softcap", "smollm3-nope", "gemma3-text", "olmo2", "qwen3-moe", "mixtral",
                        "gpt-oss"})
    for (Precision p : {Precision::F32, Precision::Fast}) out.push_back({a, p});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Architectures, CudaArchParity, ::testing::ValuesIn(arch_cases()), [](const auto& info) {
  return test::param_name(info.param.name) + (info.param.precision == Precision::F32 ? "_f32" : "_fast");
});

TEST(CudaGeneration, FloatModelMatchesTransformersGreedy) {
  REQUIRE_GPU();
  const fs::path dir = test::data_dir() / "models" / "fortune-tiny";
  auto model = Engine::load(dir, {.threads = 2, .precision = Precision::F32, .device = Device::Cuda});
  test::expect_reference_greedy(*model, dir, dir / "reference-greedy.json");
}

TEST(CudaGeneration, QuantizedModelMatchesTheF32Reference) {
  REQUIRE_GPU();
  auto model = Engine::load(test::bundled_model(), {.threads = 2, .precision = Precision::F32, .device = Device::Cuda});
  test::expect_reference_greedy(*model, test::bundled_model(), test::bundled_model() / "reference-greedy.json");
}

TEST(CudaGeneration, PerplexityF32WithinATenthOfAPercentFastWithinOnePercent) {
  REQUIRE_GPU();
  const std::string text = test::fortunes_text();
  for (const auto& c : test::perplexity_cases()) {
    const double want = test::reference_perplexity(c.reference);
    const auto tok = Tokenizer::load(c.dir);
    for (Precision p : {Precision::F32, Precision::Fast}) {
      auto model = Engine::load(c.dir, {.threads = 2, .precision = p, .device = Device::Cuda});
      const PerplexityResult r = perplexity(*model, *tok, text, 128);
      std::printf("[ %s %s ] perplexity %.4f (reference %.4f)\n", c.dir.filename().c_str(),
                  p == Precision::F32 ? "f32" : "fast", r.perplexity, want);
      EXPECT_EQ(r.scored_tokens, 1200);
      EXPECT_NEAR(r.perplexity, want, want * (p == Precision::F32 ? 1e-3 : 1e-2)) << c.dir;
    }
  }
}

// A chat's second turn reuses the device KV cache (grown in place) and gives the same
// tokens as a fresh run over the whole conversation.
TEST(CudaGeneration, ReusedCacheMatchesAFreshRun) {
  REQUIRE_GPU();
  const fs::path dir = test::bundled_model();
  const auto tok = Tokenizer::load(dir);
  auto model = Engine::load(dir, {.threads = 2, .precision = Precision::F32, .device = Device::Cuda});
  GenerationRequest first;
  first.prompt = tok->encode("Q: Why did the chicken cross the road?\nA:", true);
  first.max_tokens = 20;
  GenerationStream s1(*model, *tok, first);
  while (s1.step()) {
  }
  CachedPrefix kept = s1.take_cache();
  std::vector<int32_t> second_prompt = first.prompt;
  second_prompt.insert(second_prompt.end(), s1.result().ids.begin(), s1.result().ids.end());
  const auto more = tok->encode("\nQ: And then?\nA:", false);
  second_prompt.insert(second_prompt.end(), more.begin(), more.end());
  GenerationRequest second = first;
  second.prompt = second_prompt;
  second.max_tokens = 30;
  GenerationStream reused(*model, *tok, second, {}, std::move(kept));
  while (reused.step()) {
  }
  EXPECT_GT(reused.result().cached_prompt_tokens, int64_t(first.prompt.size()));
  const GenerationResult fresh = generate(*model, *tok, second);
  EXPECT_EQ(reused.result().ids, fresh.ids);
}

// max |a − ref| / max |ref|.
double rel(const std::vector<float>& a, const std::vector<float>& ref) {
  double err = 0, top = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    err = std::max(err, double(std::abs(a[i] - ref[i]))), top = std::max(top, double(std::abs(ref[i])));
  return err / top;
}

// The decode path (int8 matrix-vector kernels with the fused residual norms, attention that
// prepares its own heads, one CUDA graph per step) against the prefill path (bf16 cuBLAS,
// separate kernels) on the 4-bit model, position by position; and the GPU's greedy argmax
// against the argmax of the same step's logits.
TEST(CudaGeneration, DecodePathAgreesWithPrefillPath) {
  REQUIRE_GPU();
  const fs::path dir = test::bundled_model();
  const auto tok = Tokenizer::load(dir);
  const auto ids = tok->encode("Q: What do you call a fish with no eyes?\nA: A fsh. Q: And a deer with no eyes?", true);
  auto fast = Engine::load(dir, {.threads = 2, .precision = Precision::Fast, .device = Device::Cuda});
  auto exact = Engine::load(dir, {.threads = 2, .precision = Precision::F32, .device = Device::Cuda});
  const int64_t vocab = fast->config().vocab_size;
  auto run = [&](Engine& m, bool decode) { return test::logits_of_every_position(m, ids, decode); };
  const auto ref = run(*exact, false), exact_decode = run(*exact, true), fast_prefill = run(*fast, false),
             fast_decode = run(*fast, true);
  std::printf("[ 4-bit model, max |diff| / max |logit| vs f32 prefill ] f32 decode %.3g, fast prefill %.3g, fast decode %.3g\n",
              rel(exact_decode, ref), rel(fast_prefill, ref), rel(fast_decode, ref));
  // The perplexity of the sentence (each position predicting the next token) through the
  // decode path: what the issue's accuracy bound is about (fast within 1 % of f32).
  auto perplexity = [&](const std::vector<float>& logits) {
    double nll = 0;
    for (size_t t = 0; t + 1 < ids.size(); ++t) {
      const float* row = &logits[t * size_t(vocab)];
      const float top = *std::max_element(row, row + vocab);
      double z = 0;
      for (int64_t v = 0; v < vocab; ++v) z += std::exp(double(row[v] - top));
      nll += std::log(z) + top - row[ids[t + 1]];
    }
    return std::exp(nll / double(ids.size() - 1));
  };
  const double ppl_ref = perplexity(ref), ppl_decode = perplexity(fast_decode);
  std::printf("[ 4-bit model, sentence perplexity ] f32 prefill %.4f, fast decode %.4f\n", ppl_ref, ppl_decode);
  EXPECT_LE(rel(exact_decode, ref), 1e-5);
  EXPECT_LE(rel(fast_prefill, ref), 2.5e-2);
  EXPECT_NEAR(ppl_decode, ppl_ref, 0.01 * ppl_ref);
  // Decode's activations are one int8 code per 32 values (d/2 = 1/254 of the block's largest
  // per value, as llama.cpp's Q8_0), against bf16's 1/256 relative per value: its largest
  // logit error is the larger, measured 2.9 % on this model.
  EXPECT_LE(rel(fast_decode, ref), 5e-2);
  // The GPU's greedy argmax against the argmax of the same step's logits.
  KvSequence g = fast->new_sequence();
  for (size_t t = 0; t < ids.size(); ++t) {
    const int32_t device_argmax = fast->forward_draw(std::span<const int32_t>(&ids[t], 1), g, TokenDraw{});
    const float* row = &fast_decode[t * size_t(vocab)];
    EXPECT_EQ(device_argmax, int32_t(std::max_element(row, row + vocab) - row)) << "position " << t;
  }
}

// The draw kernel against the host's draw_token with the same TokenDraw: the same token
// over flat and peaked distributions, ties, masked (-inf) tokens, every filter combination,
// the logits processors, at a small and a 152k vocabulary (Qwen's); and the same token again
// on a second run (the device sums in fixed point: no order-dependent rounding).
TEST(CudaSampling, DrawsWhatTheHostDraws) {
  REQUIRE_GPU();
  std::mt19937 gen(17);
  int checked = 0, sampled = 0;
  for (int64_t vocab : {3000, 151936}) {
    auto device = make_cuda_sampler(vocab);
    std::set<int32_t> distinct;
    for (int shape = 0; shape < 5; ++shape)  // 0 flat, 1 peaked, 2 ties, 3 masked + processors, 4 a token mask
      for (SamplingParams p : test::sampling_filter_grid(gen)) {
        std::vector<int32_t> history;
        if (shape == 3) {
          p.repetition_penalty = 1.3f, p.presence_penalty = 0.5f, p.frequency_penalty = 0.2f;
          p.logit_bias = {{5, 4.0f}, {int32_t(vocab) - 1, -2.0f}};
          for (int i = 0; i < 30; ++i) history.push_back(int32_t(gen() % 64));
        }
        std::normal_distribution<float> nd(0.0f, shape == 1 ? 12.0f : 1.0f);
        std::vector<float> logits(static_cast<size_t>(vocab));
        for (auto& v : logits) v = nd(gen);
        if (shape == 2)
          for (auto& v : logits) v = std::round(v * 4) / 4;  // many equal log-probabilities
        if (shape == 3)
          for (size_t i = 0; i < logits.size(); i += 7) logits[i] = -INFINITY;
        // Constrained decoding's mask: a random third of the tokens (a short mask: the ids
        // past its end are outside it too).
        std::shared_ptr<std::vector<uint32_t>> mask;
        if (shape == 4) {
          mask = std::make_shared<std::vector<uint32_t>>(size_t(vocab / 32));
          for (auto& w : *mask) w = gen() & gen();
        }
        Sampler s(p);
        for (int step = 0; step < 2; ++step) {
          TokenDraw d = s.next_draw(history, vocab);
          d.allowed = mask;
          std::vector<float> host = logits;
          const int32_t want = cpu::draw_token(host, d);
          const int32_t got = device->draw(logits.data(), d);
          ASSERT_EQ(got, want) << "vocab " << vocab << " shape " << shape << " T " << p.temperature << " top_p "
                               << p.top_p << " top_k " << p.top_k << " min_p " << p.min_p << " step " << step;
          ASSERT_EQ(device->draw(logits.data(), d), got) << "a second run";
          ++checked;
          sampled += p.temperature > 0;
          distinct.insert(got);
        }
      }
    EXPECT_GT(distinct.size(), 100u) << "vocab " << vocab;  // draws, not one token again and again
  }
  EXPECT_EQ(checked, 2 * 5 * 3 * 3 * 3 * 3 * 2);
  std::printf("[ %d draws identical to the host's, %d of them sampled ]\n", checked, sampled);
}

// Generation on the GPU draws there when no logprobs are asked for and on the host when
// they are (the logits come back): the same seed gives the same tokens either way.
TEST(CudaSampling, GenerationDrawsTheSameOnTheDeviceAndTheHost) {
  REQUIRE_GPU();
  const fs::path dir = test::bundled_model();
  const auto tok = Tokenizer::load(dir);
  auto model = Engine::load(dir, {.threads = 2, .precision = Precision::Fast, .device = Device::Cuda});
  GenerationRequest req;
  req.prompt = tok->encode("Q: Why did the chicken cross the road?\nA:", true);
  req.max_tokens = 40;
  req.sampling.temperature = 0.9f, req.sampling.top_p = 0.95f, req.sampling.top_k = 50;
  req.sampling.repetition_penalty = 1.1f, req.sampling.seed = 7;
  const GenerationResult device = generate(*model, *tok, req);
  req.top_logprobs = 0;
  const GenerationResult host = generate(*model, *tok, req);
  EXPECT_EQ(device.ids, host.ids);
  EXPECT_EQ(host.logprobs.size(), size_t(host.generation_tokens));
  req.sampling.seed = 8;
  EXPECT_NE(generate(*model, *tok, req).ids, host.ids);  // the seed does steer it
}

// Constrained decoding on the GPU: the mask applied in the draw kernel gives the tokens
// the host's draw gives (logprobs asked: the logits come back), greedy and sampled, and
// the text fits the grammar.
TEST(CudaSampling, ConstrainedGenerationIsTheSameOnTheDeviceAndTheHost) {
  REQUIRE_GPU();
  const fs::path dir = test::bundled_model();
  const std::shared_ptr<const Tokenizer> tok = Tokenizer::load(dir);
  auto model = Engine::load(dir, {.threads = 2, .precision = Precision::Fast, .device = Device::Cuda});
  ConstraintCompiler compiler(model->config(), tok);
  for (const float temperature : {0.0f, 0.9f}) {
    GenerationRequest req;
    req.prompt = tok->encode("Q: What is your favourite number?\nA:", true);
    req.max_tokens = 40;
    req.sampling.temperature = temperature, req.sampling.seed = 11;
    req.constraint = compiler.gbnf(R"(root ::= " My number is " [1-9] [0-9]? [0-9]? "." )");
    const GenerationResult device = generate(*model, *tok, req);
    req.top_logprobs = 0;
    const GenerationResult host = generate(*model, *tok, req);
    EXPECT_EQ(device.ids, host.ids) << "temperature " << temperature;
    EXPECT_TRUE(std::regex_match(device.text, std::regex(" My number is [1-9][0-9]{0,2}\\."))) << device.text;
    EXPECT_EQ(device.finish_reason, "stop");
  }
}

// Decode over most of the bundled model's context (250 of 256 positions): the cache split
// into 16 spans, each warp's positions taken several at a time, the spans merged — against
// the prefill path, in f32.
TEST(CudaGeneration, LongContextDecodeAgreesWithPrefill) {
  REQUIRE_GPU();
  const fs::path dir = test::bundled_model();
  const auto tok = Tokenizer::load(dir);
  std::vector<int32_t> ids = tok->encode(test::fortunes_text(), true);
  ASSERT_GE(ids.size(), 250u);
  ids.resize(250);
  auto exact = Engine::load(dir, {.threads = 2, .precision = Precision::F32, .device = Device::Cuda});
  const auto prefill = test::logits_of_every_position(*exact, ids, false), decode = test::logits_of_every_position(*exact, ids, true);
  std::printf("[ 250 positions, f32 decode vs prefill ] max |diff| / max |logit| %.3g\n", rel(decode, prefill));
  EXPECT_LE(rel(decode, prefill), 1e-5);
}

// A model whose weights cannot fit is refused before anything is uploaded, with the
// figures (the plan's weight pointers are never read).
TEST(CudaMemory, RefusesAModelLargerThanTheFreeMemory) {
  REQUIRE_GPU();
  ModelProgram p;
  p.hidden = 16384, p.heads = 64, p.kv_heads = 8, p.head_dim = 128, p.ffn = 53248, p.vocab = 128256, p.context = 4096;
  p.precision = Precision::Fast;
  p.ropes = {RopeSpec{128}};
  auto bf16 = [](int64_t rows, int64_t cols) {
    WeightMatrix m;
    m.rows = rows, m.cols = cols, m.dtype = DType::BF16;
    return m;
  };
  p.embed = bf16(p.vocab, p.hidden);
  p.lm_head = p.embed;
  for (int i = 0; i < 126; ++i) {  // Llama 3.1 405B in bf16: about 810 GB
    LayerProgram l;
    l.attention.qkv = {bf16((p.heads + 2 * p.kv_heads) * p.head_dim, p.hidden)};
    l.ffn.dense.gate_up = {bf16(2 * p.ffn, p.hidden)};
    l.attention.o = bf16(p.hidden, p.heads * p.head_dim);
    l.ffn.dense.down = bf16(p.hidden, p.ffn);
    p.layers.push_back(l);
  }
  try {
    make_cuda_backend(p);
    FAIL() << "a 405B bf16 model was accepted";
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("not enough GPU memory"), std::string::npos) << msg;
    EXPECT_NE(msg.find("GiB free"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace mlxcpp

namespace mlxcpp {
namespace {

// A sequence's logits are the same bits alone and in any batch on the GPU too: decode
// rows alone through the matrix-vector kernels and in batches through the tensor-core
// kernel with the same arithmetic (40 sequences: batches of more than one 32-row tile),
// attention spans set by each row's own position, prefill chunks through cuBLAS shaped by
// their own sequence.
TEST(CudaBatch, LogitsAreTheSameAloneAndInAnyBatch) {
  REQUIRE_GPU();
  std::vector<fs::path> dirs = {test::bundled_model()};
  for (const char* a : {"llama3-rope", "mistral-sliding", "qwen3-qknorm", "gemma2-softcap"})
    dirs.push_back(test::data_dir() / "arch" / a);
  for (const auto& dir : dirs)
    for (const Precision p : {Precision::Fast, Precision::F32}) {
      SCOPED_TRACE(dir.filename().string() + (p == Precision::F32 ? " f32" : " fast"));
      auto model = Engine::load(dir, {.threads = 2, .precision = p, .device = Device::Cuda});
      EXPECT_GT(test::expect_batch_invariance(*model, 11, 40), 0);
    }
}

// Decode passes replay captured CUDA graphs; without them (MLXCPP_CUDA_GRAPHS=0, so that
// a profiler sees each kernel) every kernel is launched directly: the same logits, bit for
// bit, at every position of a sequence decoded one token at a time.
TEST(CudaGeneration, DirectLaunchesGiveTheLogitsOfGraphReplay) {
  REQUIRE_GPU();
  std::vector<int32_t> ids;
  for (int i = 0; i < 24; ++i) ids.push_back(int32_t((7 + 13 * i) % 200));
  auto replayed = Engine::load(test::bundled_model(), {.threads = 2, .precision = Precision::Fast, .device = Device::Cuda});
  auto direct = Engine::load(test::bundled_model(),
                             {.threads = 2, .precision = Precision::Fast, .device = Device::Cuda, .cuda_graphs = false});
  const auto a = test::logits_of_every_position(*replayed, ids, /*decode=*/true);
  const auto b = test::logits_of_every_position(*direct, ids, /*decode=*/true);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

// The router's top k on the device against a host reference, for the expert counts the
// kernel is specialised for (up to 32, up to 128, up to 512 a row) and k up to 16: logits
// from a few levels so that probabilities tie exactly (the lower index wins), weights
// with and without renormalisation, choices in ascending expert order.
TEST(CudaKernels, RouterPicksTheTopExpertsWithTiesToTheLowerIndex) {
  REQUIRE_GPU();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> level(-6, 6);
  struct Shape {
    int experts, k;
  };
  for (const Shape sh : {Shape{4, 2}, Shape{8, 2}, Shape{32, 4}, Shape{60, 4}, Shape{128, 8}, Shape{256, 8},
                         Shape{384, 16}, Shape{512, 10}})
    for (const bool renormalize : {false, true}) {
      SCOPED_TRACE(std::to_string(sh.experts) + " experts, top " + std::to_string(sh.k) +
                   (renormalize ? ", renormalised" : ""));
      const int n = 9, E = sh.experts, K = sh.k;
      std::vector<float> logits(size_t(n) * E);
      for (float& v : logits) v = float(level(rng)) * 0.5f;
      const Routing got = cuda_route(logits, n, E, K, renormalize);
      ASSERT_EQ(got.experts.size(), size_t(n) * K);
      for (int r = 0; r < n; ++r) {
        const float* x = logits.data() + size_t(r) * E;
        const float top = *std::max_element(x, x + E);
        double sum = 0;
        for (int e = 0; e < E; ++e) sum += std::exp(double(x[e]) - top);
        std::vector<int> order(static_cast<size_t>(E));
        for (int e = 0; e < E; ++e) order[size_t(e)] = e;
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return x[a] > x[b]; });
        std::vector<int> want(order.begin(), order.begin() + K);
        double total = 0;
        for (int e : want) total += std::exp(double(x[e]) - top) / sum;
        std::sort(want.begin(), want.end());
        for (int j = 0; j < K; ++j) {
          SCOPED_TRACE("row " + std::to_string(r) + " slot " + std::to_string(j));
          ASSERT_EQ(got.experts[size_t(r * K + j)], want[size_t(j)]);
          const double p = std::exp(double(x[want[size_t(j)]]) - top) / sum;
          EXPECT_NEAR(got.weights[size_t(r * K + j)], renormalize ? p / total : p, 1e-6);
        }
      }
    }
}

// Mixtures of experts on the GPU against the CPU engine's f32 path, synthesized small
// (4 experts, 2 per token): Qwen3-MoE with a dense layer between its mixtures, Mixtral,
// and gpt-oss (sinks, clamped SwiGLU, biased experts, sliding and full layers), in float
// and quantized as mlx-community ships them; logits through prefill and decode, and the
// same bits alone and in any batch.
TEST(CudaMixture, MatchesTheCpuAndIsBatchInvariant) {
  REQUIRE_GPU();
  struct Case {
    const char* name;
    nlohmann::json config;
    std::optional<QuantSpec> quant;
  };
  const nlohmann::json base = {{"hidden_size", 64}, {"num_hidden_layers", 3}, {"num_attention_heads", 4},
                               {"num_key_value_heads", 2}, {"head_dim", 16}, {"vocab_size", 320},
                               {"rms_norm_eps", 1e-6}, {"max_position_embeddings", 4096}, {"num_experts_per_tok", 2},
                               {"rope_theta", 10000.0}, {"tie_word_embeddings", false}};
  auto with = [&](nlohmann::json extra) {
    nlohmann::json c = base;
    c.update(extra);
    return c;
  };
  const nlohmann::json qwen = with({{"model_type", "qwen3_moe"}, {"intermediate_size", 96}, {"moe_intermediate_size", 64},
                                    {"num_experts", 4}, {"norm_topk_prob", true}, {"mlp_only_layers", {1}}});
  const nlohmann::json mixtral = with({{"model_type", "mixtral"}, {"intermediate_size", 64}, {"num_local_experts", 4},
                                       {"sliding_window", 6}});
  const nlohmann::json gpt_oss = with({{"model_type", "gpt_oss"}, {"intermediate_size", 64}, {"num_local_experts", 4},
                                       {"sliding_window", 6}, {"swiglu_limit", 1.0}, {"rope_theta", 150000.0}});
  const std::vector<Case> cases = {{"qwen3_moe", qwen, std::nullopt},
                                   {"qwen3_moe 4-bit", qwen, QuantSpec{QuantMode::Affine, 4, 32}},
                                   {"mixtral", mixtral, std::nullopt},
                                   {"gpt_oss", gpt_oss, std::nullopt},
                                   {"gpt_oss mxfp4", gpt_oss, QuantSpec{QuantMode::MxFp4, 4, 32}}};
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < 24; ++i) ids.push_back((i * 37 + 5) % 300 + 3);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    test::TempDir dir;
    write_file_atomic(dir / "like.json", c.config.dump());
    SynthOptions o;
    o.like = (dir / "like.json").string();
    o.dtype = DType::F32;
    o.quant = c.quant;
    synth_model(o, dir / "model");
    auto cpu = Engine::load(dir / "model", {.threads = 2, .precision = Precision::F32});
    const auto want = test::logits_of_every_position(*cpu, ids, false);
    double scale = 0;
    for (float v : want) scale = std::max(scale, double(std::abs(v)));
    for (const Precision p : {Precision::F32, Precision::Fast}) {
      SCOPED_TRACE(p == Precision::F32 ? "f32" : "fast");
      auto gpu = Engine::load(dir / "model", {.threads = 2, .precision = p, .device = Device::Cuda});
      ASSERT_EQ(gpu->device(), Device::Cuda) << "fell back to the CPU";
      for (const bool decode : {false, true}) {
        const auto got = test::logits_of_every_position(*gpu, ids, decode);
        ASSERT_EQ(got.size(), want.size());
        const size_t V = want.size() / ids.size();
        const double bound = p == Precision::F32 ? 1e-4 : 2.5e-2;
        double worst = 0;
        size_t outside = 0;
        for (size_t t = 0; t < ids.size(); ++t) {
          double diff = 0;
          for (size_t v = t * V; v < (t + 1) * V; ++v) diff = std::max(diff, double(std::abs(got[v] - want[v])));
          worst = std::max(worst, diff / scale);
          outside += diff / scale > bound;
        }
        std::printf("[ %s %s %s ] max |diff| / max |logit| = %.3g (%zu of %zu positions over %.1g)\n", c.name,
                    p == Precision::F32 ? "f32" : "fast", decode ? "decode" : "prefill", worst, outside, ids.size(),
                    bound);
        // These synthesized routers are near uniform, so their choices have near ties that
        // bf16 rounding may break the other way (the transformers fixtures, drawn with clear
        // routing, hold the fast path to the bound at every position): the fast path may
        // miss it at a tenth of the positions.
        if (p == Precision::F32)
          EXPECT_EQ(outside, 0u) << (decode ? "decode" : "prefill");
        else
          EXPECT_LE(outside, ids.size() / 10) << (decode ? "decode" : "prefill");
      }
      EXPECT_GT(test::expect_batch_invariance(*gpu, 5, 12), 0);
    }
  }
}

}  // namespace
}  // namespace mlxcpp
