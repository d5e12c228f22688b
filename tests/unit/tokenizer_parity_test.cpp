// Tokenizer parity with Hugging Face tokenizers (Rust) on a committed corpus: ids with
// and without special tokens, and decode. Goldens: tests/tools/make_tokenizer_goldens.js.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

namespace fs = std::filesystem;

class TokenizerParity : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerParity, MatchesHuggingFace) {
  const auto golden = read_json_file(test::data_dir() / "tokenizer" / "goldens" / (GetParam() + ".json"));
  const fs::path dir = fs::path(MLXCPP_SOURCE_DIR) / golden["tokenizer"].get<std::string>();
  const auto tok = Tokenizer::load(dir);
  int bad = 0;
  for (const auto& c : golden["cases"]) {
    const std::string text = c["text"];
    const auto ids = tok->encode(text, true);
    const auto ids_ns = tok->encode(text, false);
    const std::string decoded = tok->decode(ids);
    const bool ok = ids == c["ids"].get<std::vector<int32_t>>() &&
                    ids_ns == c["ids_no_special"].get<std::vector<int32_t>>() && decoded == c["decoded"];
    if (!ok && ++bad <= 5) {
      ADD_FAILURE() << GetParam() << ": text " << nlohmann::json(text).dump() << "\n  ours " << nlohmann::json(ids).dump()
                    << "\n  HF   " << c["ids"].dump() << "\n  ours decode " << nlohmann::json(decoded).dump()
                    << "\n  HF   decode " << c["decoded"].dump();
    }
  }
  EXPECT_EQ(bad, 0) << "of " << golden["cases"].size() << " cases";
}

INSTANTIATE_TEST_SUITE_P(AllTokenizers, TokenizerParity,
                         ::testing::Values("fortune-tiny", "llama3", "llama3.1", "qwen3", "gemma3", "mistral-7b-v0.1",
                                           "mistral-7b-v0.1-metaspace", "phi-3-mini-4k-instruct",
                                           "tinyllama-1.1b-chat-v1.0"),
                         [](const auto& info) { return test::param_name(info.param); });

}  // namespace
}  // namespace mlxcpp
