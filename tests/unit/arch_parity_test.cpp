// Every architecture against transformers (fixtures: tests/tools/make_arch_fixtures.py):
// logits within 1e-4 relative at every position of a 40-token sequence, and the greedy
// continuation identical.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "convert/convert.h"
#include "format/safetensors_writer.h"
#include "format/weight_set.h"
#include "runtime/engine.h"
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
  auto model = Engine::load(dir, {.threads = 2});
  const double error = test::logits_error(*model, ref);
  RecordProperty("relative_error", std::to_string(error));
  EXPECT_LE(error, 1e-4) << "max |diff| / max |logit|";
  // Greedy continuation, token by token through the KV cache.
  EXPECT_EQ(test::greedy_continuation(*model, ref), ref["greedy_ids"].get<std::vector<int32_t>>());
}

// The fast path (bf16 KV cache, int8/bf16 products where the weights allow) within bf16's
// rounding of transformers' float32 logits, and the same greedy tokens. (The mixtures'
// fixtures are drawn with clear routing, so that rounding cannot pick another expert.)
TEST_P(ArchParity, FastPathWithinRoundingOfTransformers) {
  const fs::path dir = test::data_dir() / "arch" / GetParam();
  const auto ref = read_json_file(dir / "reference.json");
  auto model = Engine::load(dir, {.threads = 2, .precision = Precision::Fast});
  const double error = test::logits_error(*model, ref);
  RecordProperty("relative_error", std::to_string(error));
  EXPECT_LE(error, 2.5e-2) << "max |diff| / max |logit|";
  EXPECT_EQ(test::greedy_continuation(*model, ref), ref["greedy_ids"].get<std::vector<int32_t>>());
}

// The same after `convert` to MLX's layout (float32: stacked experts, renamed or sanitized
// tensors, the config as mlx-lm writes it).
TEST_P(ArchParity, SameAfterConvert) {
  const fs::path dir = test::data_dir() / "arch" / GetParam();
  const auto ref = read_json_file(dir / "reference.json");
  test::TempDir out;
  convert_model(dir, out / "mlx", {.dtype = DType::F32});
  auto model = Engine::load(out / "mlx", {.threads = 2});
  EXPECT_LE(test::logits_error(*model, ref), 1e-4);
  EXPECT_EQ(test::greedy_continuation(*model, ref), ref["greedy_ids"].get<std::vector<int32_t>>());
}

INSTANTIATE_TEST_SUITE_P(Architectures, ArchParity,
                         ::testing::Values("llama3-rope", "llama-tied-bias", "mistral-sliding", "qwen2-bias",
                                           "qwen3-qknorm", "phi3-longrope", "gemma", "gemma2-softcap", "smollm3-nope",
                                           "olmo2", "gemma3-text", "qwen3-moe", "mixtral", "gpt-oss"),
                         [](const auto& info) { return test::param_name(info.param); });

// Gemma 3's multimodal checkpoints (model_type gemma3): the text model's config under
// text_config, its tensors under language_model.model.* (mlx-vlm's layout) or
// model.language_model.* (transformers v5's), a vision tower beside it. Built here from the
// gemma3-text fixture; the text model must give that fixture's logits and tokens.
TEST(Gemma3Multimodal, TheTextModelRunsFromEitherLayout) {
  const fs::path src = test::data_dir() / "arch" / "gemma3-text";
  const auto ref = read_json_file(src / "reference.json");
  const WeightSet weights = WeightSet::open(src);
  for (const std::string prefix : {"language_model.model.", "model.language_model."}) {
    SCOPED_TRACE(prefix);
    test::TempDir dir;
    nlohmann::json text = read_json_file(src / "config.json");
    const nlohmann::json config = {{"model_type", "gemma3"}, {"architectures", {"Gemma3ForConditionalGeneration"}},
                                   {"vocab_size", text["vocab_size"]}, {"text_config", text},
                                   {"vision_config", {{"model_type", "siglip_vision_model"}, {"hidden_size", 8}}}};
    write_file_atomic(dir / "config.json", config.dump());
    SafetensorsWriter out;
    for (const std::string& name : weights.names()) {
      const TensorView t = weights.get(name);
      out.add_copy(prefix + name.substr(6), t.dtype(), t.shape(), t.bytes());  // "model." → the wrapper's
    }
    const std::vector<float> vision(16, 0.5f);  // a tower nobody reads
    out.add_copy("vision_tower.vision_model.embeddings.patch_embedding.weight", DType::F32, {4, 4},
                 {reinterpret_cast<const uint8_t*>(vision.data()), vision.size() * 4});
    out.write(dir / "model.safetensors");
    auto model = Engine::load(dir.path(), {.threads = 2});
    EXPECT_TRUE(model->config().multimodal);
    EXPECT_LE(test::logits_error(*model, ref), 1e-4);
    EXPECT_EQ(test::greedy_continuation(*model, ref), ref["greedy_ids"].get<std::vector<int32_t>>());
  }
}

// Prefill and decode through whole models give identical logits at every position — what
// makes a chat's reused KV cache answer as a fresh prompt would: the bundled 4-bit model on
// its fast path (bf16 KV cache, int8-activation products) and on the f32 path, and the
// architectures whose attention differs (a sliding window, soft-capped scores, grouped heads).
TEST(PromptAndDecode, GiveTheSameLogits) {
  struct Case {
    std::filesystem::path dir;
    Precision precision;
    int threads;  // 4 threads and 2 KV heads: decode's attention jobs take one query head each
  };
  const auto arch = test::data_dir() / "arch";
  const std::vector<Case> cases = {{test::bundled_model(), Precision::Fast, 2},
                                   {test::bundled_model(), Precision::F32, 2},
                                   {arch / "mistral-sliding", Precision::Fast, 2},
                                   {arch / "mistral-sliding", Precision::Fast, 4},
                                   {arch / "gemma2-softcap", Precision::Fast, 2},
                                   {arch / "llama3-rope", Precision::Fast, 2}};
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < 45; ++i) ids.push_back((i * 37 + 11) % 200 + 3);  // 45: past two key tiles
  for (const Case& c : cases) {
    SCOPED_TRACE(c.dir.filename().string() + (c.precision == Precision::F32 ? " f32 " : " fast ") +
                 std::to_string(c.threads) + " threads");
    auto model = Engine::load(c.dir, {.threads = c.threads, .precision = c.precision});
    const auto prefill = test::logits_of_every_position(*model, ids, false);
    const auto decode = test::logits_of_every_position(*model, ids, true);
    ASSERT_EQ(prefill.size(), decode.size());
    for (size_t i = 0; i < prefill.size(); ++i)
      ASSERT_EQ(prefill[i], decode[i]) << "position " << i / size_t(model->config().vocab_size);
  }
}

}  // namespace
}  // namespace mlxcpp

namespace mlxcpp {
namespace {

// A sequence's logits are the same bits alone and in any batch, at any place in it,
// whatever the others are doing (prefill chunks, decode steps): the architecture fixtures
// and the bundled model, on both precisions.
TEST(BatchInvariance, LogitsAreTheSameAloneAndInAnyBatch) {
  std::vector<std::filesystem::path> dirs = {test::bundled_model()};
  for (const char* a : {"llama3-rope", "mistral-sliding", "qwen3-qknorm", "phi3-longrope", "gemma2-softcap"})
    dirs.push_back(test::data_dir() / "arch" / a);
  for (const auto& dir : dirs)
    for (const Precision p : {Precision::Fast, Precision::F32}) {
      SCOPED_TRACE(dir.filename().string() + (p == Precision::F32 ? " f32" : " fast"));
      auto model = Engine::load(dir, {.threads = 2, .precision = p});
      EXPECT_GT(test::expect_batch_invariance(*model, 7), 0);
    }
}

}  // namespace
}  // namespace mlxcpp
