// The step-wise generation that servers build on: reusing a KV cache across turns gives
// the same tokens as recomputing, interleaved streams on one model stay independent,
// cancellation stops a stream, logprobs are consistent with the sampled tokens.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/engine.h"
#include "runtime/generator.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

namespace mlxcpp {
namespace {

class GenerationStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tok_holder = Tokenizer::load(test::bundled_model());
    tok = tok_holder.get();
    model = Engine::load(test::bundled_model(), {.threads = 2}).release();
  }
  static void TearDownTestSuite() {
    delete model;
    tok_holder.reset();
  }
  static GenerationRequest request(const std::string& prompt, int max_tokens) {
    GenerationRequest r;
    r.prompt = tok->encode(prompt, true);
    r.max_tokens = max_tokens;
    return r;
  }
  static inline std::shared_ptr<const Tokenizer> tok_holder;
  static inline const Tokenizer* tok = nullptr;
  static inline Engine* model = nullptr;
};

TEST_F(GenerationStreamTest, ReusedCacheGivesTheSameTokensAsRecomputing) {
  // Turn 1, then turn 2 = turn 1's prompt + its answer + more text.
  GenerationStream first(*model, *tok, request("The best way to", 10));
  while (first.step()) {
  }
  std::vector<int32_t> turn2 = tok->encode("The best way to", true);
  turn2.insert(turn2.end(), first.result().ids.begin(), first.result().ids.end());
  const auto more = tok->encode(" And then", false);
  turn2.insert(turn2.end(), more.begin(), more.end());
  GenerationRequest req;
  req.prompt = turn2;
  req.max_tokens = 12;
  const GenerationResult fresh = generate(*model, *tok, req);
  GenerationStream reused(*model, *tok, req, {}, first.take_cache());
  while (reused.step()) {
  }
  EXPECT_EQ(reused.result().ids, fresh.ids);
  EXPECT_EQ(reused.result().text, fresh.text);
  // Everything the first stream fed through the model is reused: its prompt and all but
  // the last generated token.
  EXPECT_EQ(reused.result().cached_prompt_tokens, int64_t(tok->encode("The best way to", true).size() + 9));
  EXPECT_EQ(fresh.cached_prompt_tokens, 0);
}

TEST_F(GenerationStreamTest, InterleavedStreamsAreIndependent) {
  const GenerationRequest a = request("The best way to", 16), b = request("You will", 16);
  GenerationRequest c = request("Life is", 16);
  c.sampling.temperature = 0.9f;
  c.sampling.seed = 42;
  const GenerationResult ra = generate(*model, *tok, a), rb = generate(*model, *tok, b), rc = generate(*model, *tok, c);
  GenerationStream sa(*model, *tok, a), sb(*model, *tok, b), sc(*model, *tok, c);
  for (bool any = true; any;) {
    any = false;
    any |= sa.step();
    any |= sb.step();
    any |= sc.step();
  }
  EXPECT_EQ(sa.result().ids, ra.ids);
  EXPECT_EQ(sb.result().ids, rb.ids);
  EXPECT_EQ(sc.result().ids, rc.ids);
}

TEST_F(GenerationStreamTest, CancellationStopsTheStream) {
  std::atomic<bool> cancel{false};
  GenerationRequest req = request("The best way to", 50);
  req.cancel = &cancel;
  int pieces = 0;
  GenerationStream s(*model, *tok, req, [&](const std::string&) {
    if (++pieces == 2) cancel = true;
  });
  while (s.step()) {
  }
  EXPECT_EQ(s.result().finish_reason, "cancelled");
  EXPECT_LT(s.result().generation_tokens, 50);
}

TEST_F(GenerationStreamTest, LogprobsMatchTheSampledTokens) {
  GenerationRequest req = request("The best way to", 8);
  req.top_logprobs = 3;
  const GenerationResult r = generate(*model, *tok, req);
  ASSERT_EQ(r.logprobs.size(), size_t(r.generation_tokens));
  for (size_t i = 0; i < r.ids.size(); ++i) {
    const auto& lp = r.logprobs[i];
    EXPECT_EQ(lp.id, r.ids[i]);
    ASSERT_EQ(lp.top.size(), 3u);
    EXPECT_EQ(lp.top[0].first, lp.id) << "greedy picks the most likely token";
    EXPECT_FLOAT_EQ(lp.top[0].second, lp.logprob);
    EXPECT_GE(lp.top[0].second, lp.top[1].second);
    EXPECT_GE(lp.top[1].second, lp.top[2].second);
    EXPECT_LE(std::exp(lp.top[0].second) + std::exp(lp.top[1].second) + std::exp(lp.top[2].second), 1.0001);
  }
}

}  // namespace
}  // namespace mlxcpp
