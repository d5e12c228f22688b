// The float32 reference path against the references shipped with the two real models:
// transformers' greedy continuations (fortune-tiny, f32) and an independent f32 NumPy
// forward pass over MLX's exactly-dequantized 4-bit weights (fortune-tiny-mlx-4bit-g64),
// plus both reference perplexities of the held-out fortunes text.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "runtime/engine.h"
#include "runtime/generator.h"
#include "runtime/perplexity.h"
#include "model_checks.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

namespace fs = std::filesystem;

TEST(GenerationParity, FloatModelMatchesTransformersGreedy) {
  const fs::path dir = test::data_dir() / "models" / "fortune-tiny";
  auto model = Engine::load(dir, {.threads = 2});
  test::expect_reference_greedy(*model, dir, dir / "reference-greedy.json");
}

TEST(GenerationParity, QuantizedModelMatchesTheF32Reference) {
  auto model = Engine::load(test::bundled_model(), {.threads = 2});
  test::expect_reference_greedy(*model, test::bundled_model(), test::bundled_model() / "reference-greedy.json");
}

TEST(GenerationParity, PerplexityWithinATenthOfAPercent) {
  const std::string text = test::fortunes_text();
  for (const auto& c : test::perplexity_cases()) {
    auto model = Engine::load(c.dir, {.threads = 2});
    const auto tok = Tokenizer::load(c.dir);
    const PerplexityResult r = perplexity(*model, *tok, text, 128);
    const double want = test::reference_perplexity(c.reference);
    EXPECT_EQ(r.scored_tokens, 1200);
    EXPECT_NEAR(r.perplexity, want, want * 1e-3) << c.dir;
  }
}

}  // namespace
}  // namespace mlxcpp
