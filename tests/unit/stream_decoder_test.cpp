// Property test of the streaming detokenizer on random id sequences, for every
// tokenizer: pieces concatenate to the full decode and none ends inside a character.
#include "tokenizer/stream_decoder.h"

#include <gtest/gtest.h>

#include <random>

#include "test_support.h"
#include "tokenizer/utf8.h"

namespace mlxcpp {
namespace {

namespace fs = std::filesystem;

class StreamDecoderProperty : public ::testing::TestWithParam<std::string> {};

TEST_P(StreamDecoderProperty, PiecesConcatenateToTheFullDecode) {
  const fs::path dir = GetParam() == "fortune-tiny" ? test::bundled_model() : fs::path(MLXCPP_SOURCE_DIR) / "data" / "tokenizers" / GetParam();
  const auto tok = Tokenizer::load(dir);
  std::mt19937 rng(12345);
  const int32_t vocab = int32_t(tok->vocab_size());
  // Bias towards byte tokens (<0xXX>, single-byte pieces) so incomplete characters occur.
  std::vector<int32_t> byte_ids;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    if (auto id = tok->token_to_id(name)) byte_ids.push_back(*id);
  }
  for (int trial = 0; trial < 60; ++trial) {
    const bool skip_special = trial % 2 == 0;
    StreamDecoder sd(*tok, skip_special);
    std::vector<int32_t> ids;
    std::string streamed;
    const int len = 1 + int(rng() % 40);
    for (int i = 0; i < len; ++i) {
      int32_t id;
      if (!byte_ids.empty() && rng() % 3 == 0) id = byte_ids[rng() % byte_ids.size()];
      else id = int32_t(rng() % uint32_t(vocab));
      if (!tok->id_to_token(id)) continue;
      ids.push_back(id);
      const std::string piece = sd.add(id);
      ASSERT_TRUE(utf8::is_valid(piece)) << "piece is not UTF-8";
      ASSERT_EQ(streamed + piece, sd.text().substr(0, streamed.size() + piece.size())) << "emitted text changed";
      streamed += piece;
    }
    streamed += sd.finish();
    ASSERT_EQ(streamed, tok->decode(ids, skip_special)) << "trial " << trial;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTokenizers, StreamDecoderProperty,
                         ::testing::Values("fortune-tiny", "llama3.1", "qwen3", "gemma3", "mistral-7b-v0.1",
                                           "mistral-7b-v0.1-metaspace", "phi-3-mini-4k-instruct",
                                           "tinyllama-1.1b-chat-v1.0"),
                         [](const auto& info) { return test::param_name(info.param); });

}  // namespace
}  // namespace mlxcpp
