// The float32 reference path against the references shipped with the two real models:
// transformers' greedy continuations (fortune-tiny, f32) and an independent f32 NumPy
// forward pass over MLX's exactly-dequantized 4-bit weights (fortune-tiny-mlx-4bit-g64),
// plus both reference perplexities of the held-out fortunes text.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/decoder_lm.h"
#include "runtime/generator.h"
#include "runtime/perplexity.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

namespace fs = std::filesystem;

void check_greedy(const fs::path& dir, const fs::path& reference) {
  const auto ref = read_json_file(reference);
  const auto tok = Tokenizer::load(dir);
  auto model = DecoderLM::load(dir, 2);
  const int32_t eos = 1;
  for (const auto& c : ref["cases"]) {
    SCOPED_TRACE(c["prompt"].get<std::string>());
    const auto prompt_ids = tok->encode(c["prompt"].get<std::string>(), true);
    EXPECT_EQ(prompt_ids, c["prompt_ids"].get<std::vector<int32_t>>());
    std::vector<int32_t> want = c["greedy_ids"].get<std::vector<int32_t>>();
    const bool ends_with_eos = !want.empty() && want.back() == eos;
    if (ends_with_eos) want.pop_back();
    GenerationRequest req;
    req.prompt = prompt_ids;
    req.max_tokens = int(want.size()) + (ends_with_eos ? 1 : 0);
    const GenerationResult r = generate(*model, *tok, req);
    EXPECT_EQ(r.ids, want);
    if (ends_with_eos) EXPECT_EQ(r.finish_reason, "stop");
    if (c.contains("greedy_text")) EXPECT_EQ(r.text, c["greedy_text"].get<std::string>());
  }
}

TEST(GenerationParity, FloatModelMatchesTransformersGreedy) {
  check_greedy(test::data_dir() / "models" / "fortune-tiny", test::data_dir() / "models" / "fortune-tiny" / "reference-greedy.json");
}

TEST(GenerationParity, QuantizedModelMatchesTheF32Reference) {
  check_greedy(test::bundled_model(), test::bundled_model() / "reference-greedy.json");
}

double reference_ppl(const fs::path& file) {
  const auto j = read_json_file(file);
  return j["perplexity"]["perplexity"].get<double>();
}

TEST(GenerationParity, PerplexityWithinATenthOfAPercent) {
  const std::string text = read_text_file(test::data_dir() / "models" / "eval" / "debian-fortunes.txt");
  struct Case {
    fs::path dir, ref;
  } cases[] = {{test::data_dir() / "models" / "fortune-tiny", test::data_dir() / "models" / "fortune-tiny" / "reference-perplexity.json"},
               {test::bundled_model(), test::bundled_model() / "reference-greedy.json"}};
  for (const auto& c : cases) {
    auto model = DecoderLM::load(c.dir, 2);
    const auto tok = Tokenizer::load(c.dir);
    const PerplexityResult r = perplexity(*model, *tok, text, 128);
    const double want = reference_ppl(c.ref);
    EXPECT_EQ(r.scored_tokens, 1200);
    EXPECT_NEAR(r.perplexity, want, want * 1e-3) << c.dir;
  }
}

}  // namespace
}  // namespace mlxcpp
