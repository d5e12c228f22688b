// Every architecture against transformers (fixtures: tests/tools/make_arch_fixtures.py):
// logits within 1e-4 relative at every position of a 40-token sequence, and the greedy
// continuation identical.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "model/decoder_lm.h"
#include "test_support.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

namespace fs = std::filesystem;

class ArchParity : public ::testing::TestWithParam<std::string> {};

TEST_P(ArchParity, LogitsAndGreedyMatchTransformers) {
  const fs::path dir = test::data_dir() / "arch" / GetParam();
  const auto ref = read_json_file(dir / "reference.json");
  auto model = DecoderLM::load(dir, 2);
  const auto ids = ref["input_ids"].get<std::vector<int32_t>>();
  KVCache cache = model->new_cache(int64_t(ids.size()));
  std::vector<float> logits;
  model->forward(ids, cache, logits, /*all_logits=*/true);
  const auto& want = ref["logits"];
  const int64_t vocab = model->config().vocab_size;
  double max_err = 0, max_ref = 0;
  for (size_t t = 0; t < ids.size(); ++t)
    for (int64_t v = 0; v < vocab; ++v) {
      const double r = want[t][size_t(v)].get<double>();
      max_ref = std::max(max_ref, std::abs(r));
      max_err = std::max(max_err, std::abs(r - double(logits[t * size_t(vocab) + size_t(v)])));
    }
  RecordProperty("relative_error", std::to_string(max_err / max_ref));
  EXPECT_LE(max_err / max_ref, 1e-4) << "max |diff| " << max_err << " of max |logit| " << max_ref;

  // Greedy continuation, token by token through the KV cache.
  const auto prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  const auto greedy = ref["greedy_ids"].get<std::vector<int32_t>>();
  KVCache c2 = model->new_cache(int64_t(prompt.size() + greedy.size()));
  model->forward(prompt, c2, logits);
  std::vector<int32_t> got;
  for (size_t i = 0; i < greedy.size(); ++i) {
    const int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    got.push_back(next);
    model->forward(std::span<const int32_t>(&next, 1), c2, logits);
  }
  EXPECT_EQ(got, greedy);
}

INSTANTIATE_TEST_SUITE_P(Architectures, ArchParity,
                         ::testing::Values("llama3-rope", "llama-tied-bias", "mistral-sliding", "qwen2-bias",
                                           "qwen3-qknorm", "phi3-longrope", "gemma", "gemma2-softcap"),
                         [](const auto& info) { return test::param_name(info.param); });

}  // namespace
}  // namespace mlxcpp
