// Every architecture against transformers (fixtures: tests/tools/make_arch_fixtures.py):
// logits within 1e-4 relative at every position of a 40-token sequence, and the greedy
// continuation identical.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/decoder_lm.h"
#include "model_checks.h"
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
  const double error = test::logits_error(*model, ref);
  RecordProperty("relative_error", std::to_string(error));
  EXPECT_LE(error, 1e-4) << "max |diff| / max |logit|";
  // Greedy continuation, token by token through the KV cache.
  EXPECT_EQ(test::greedy_continuation(*model, ref), ref["greedy_ids"].get<std::vector<int32_t>>());
}

INSTANTIATE_TEST_SUITE_P(Architectures, ArchParity,
                         ::testing::Values("llama3-rope", "llama-tied-bias", "mistral-sliding", "qwen2-bias",
                                           "qwen3-qknorm", "phi3-longrope", "gemma", "gemma2-softcap"),
                         [](const auto& info) { return test::param_name(info.param); });

}  // namespace
}  // namespace mlxcpp
