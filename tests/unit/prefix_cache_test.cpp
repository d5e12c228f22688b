// The prefix cache on the bundled model (CPU): a request that shares a prefix with an
// earlier one starts from its blocks (the same block ids, no copy) and gets the logits of
// a fresh computation; writing inside a shared block copies it and leaves the cached one
// as it was; eviction takes least recently used leaves that no sequence holds; and through
// the server's scheduler, a second request with the same long prefix reuses it, one with a
// different system prompt reuses nothing past the difference.
#include <gtest/gtest.h>

#include <future>
#include <random>

#include "runtime/engine.h"
#include "runtime/prefix_cache.h"
#include "server/model_host.h"
#include "test_support.h"

namespace mlxcpp {
namespace {

std::vector<int32_t> random_tokens(std::mt19937& rng, size_t n, int64_t vocab) {
  std::vector<int32_t> t(n);
  for (auto& v : t) v = int32_t(rng() % uint32_t(vocab));
  return t;
}

class PrefixCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { model = Engine::load(test::bundled_model(), {.threads = 2, .precision = Precision::Fast}); }
  // The logits after `tokens`, computed from nothing.
  std::vector<float> fresh_logits(std::span<const int32_t> tokens) {
    KvSequence kv = model->new_sequence();
    std::vector<float> logits;
    model->forward(tokens, kv, logits);
    return logits;
  }
  std::unique_ptr<Engine> model;
};

TEST_F(PrefixCacheTest, ASharedPrefixIsTheSameBlocksAndGivesTheFreshLogits) {
  std::mt19937 rng(3);
  const auto a = random_tokens(rng, 40, model->config().vocab_size);
  PrefixCache cache(model->kv_pool());
  {
    KvSequence kv = model->new_sequence();
    std::vector<float> logits;
    model->forward(a, kv, logits);
    cache.insert(a, kv);
    EXPECT_EQ(cache.blocks(), 2);  // 40 tokens: two full blocks of 16
  }
  // b shares a's first 35 tokens: the cache gives the 32 of the two full blocks.
  std::vector<int32_t> b(a.begin(), a.begin() + 35);
  const auto tail = random_tokens(rng, 10, model->config().vocab_size);
  b.insert(b.end(), tail.begin(), tail.end());
  KvSequence kv = model->new_sequence();
  ASSERT_EQ(cache.match(b, kv), 32);
  std::vector<float> logits;
  model->forward(std::span<const int32_t>(b).subspan(32), kv, logits);
  EXPECT_EQ(logits, fresh_logits(b));
  EXPECT_EQ(model->kv_pool().references(kv.blocks()[0]), 2);  // shared with the cache, not copied
}

TEST_F(PrefixCacheTest, WritingInsideACachedBlockCopiesIt) {
  std::mt19937 rng(4);
  const auto a = random_tokens(rng, 32, model->config().vocab_size);
  PrefixCache cache(model->kv_pool());
  {
    KvSequence kv = model->new_sequence();
    std::vector<float> logits;
    model->forward(a, kv, logits);
    cache.insert(a, kv);
  }
  // c diverges from a at position 20, inside the second cached block.
  std::vector<int32_t> c(a.begin(), a.begin() + 20);
  const auto tail = random_tokens(rng, 8, model->config().vocab_size);
  c.insert(c.end(), tail.begin(), tail.end());
  KvSequence kv = model->new_sequence();
  ASSERT_EQ(cache.match(a, kv), 32);
  const int32_t cached_block = kv.blocks()[1];
  kv.truncate(20);
  std::vector<float> logits;
  model->forward(std::span<const int32_t>(c).subspan(20), kv, logits);
  EXPECT_EQ(logits, fresh_logits(c));
  EXPECT_NE(kv.blocks()[1], cached_block);  // its own copy
  // The cached blocks still hold a's keys and values: a's next token sees the same logits.
  KvSequence again = model->new_sequence();
  ASSERT_EQ(cache.match(a, again), 32);
  EXPECT_EQ(again.blocks()[1], cached_block);
  const int32_t next = 7;
  model->forward(std::span<const int32_t>(&next, 1), again, logits);
  std::vector<int32_t> a_next = a;
  a_next.push_back(next);
  EXPECT_EQ(logits, fresh_logits(a_next));
}

TEST_F(PrefixCacheTest, EvictionTakesTheOldestLeavesNoSequenceHolds) {
  std::mt19937 rng(5);
  const int64_t vocab = model->config().vocab_size;
  PrefixCache cache(model->kv_pool());
  const auto old_one = random_tokens(rng, 32, vocab), new_one = random_tokens(rng, 32, vocab),
             held = random_tokens(rng, 16, vocab);
  for (const auto* t : {&held, &old_one, &new_one}) {
    KvSequence kv = model->new_sequence();
    std::vector<float> logits;
    model->forward(*t, kv, logits);
    cache.insert(*t, kv);
  }
  KvSequence holder = model->new_sequence();
  ASSERT_EQ(cache.match(held, holder), 16);  // touched last, but held by a sequence
  EXPECT_EQ(cache.blocks(), 5);
  EXPECT_EQ(cache.evictable(), 4);
  const int32_t free_before = model->kv_pool().free_blocks();
  EXPECT_EQ(cache.evict(2), 2);  // old_one's two blocks: leaf first, then its parent
  EXPECT_EQ(model->kv_pool().free_blocks(), free_before + 2);
  KvSequence probe = model->new_sequence();
  EXPECT_EQ(cache.match(old_one, probe), 0);
  KvSequence probe2 = model->new_sequence();
  EXPECT_EQ(cache.match(new_one, probe2), 32);
  EXPECT_EQ(cache.evict(10), 0);  // everything left is held by a sequence
  probe2.clear();
  EXPECT_EQ(cache.evict(10), 2);  // new_one's; `held` stays while a sequence holds it
  EXPECT_EQ(cache.blocks(), 1);
}

TEST(PrefixCacheServing, ASecondRequestReusesTheSharedPrefixAndNotAnotherSystemPrompt) {
  HostOptions o;
  o.engine.threads = 2;
  ModelHost host("m", test::bundled_model(), o);
  const Tokenizer& tok = host.tokenizer();
  auto run = [&](const std::string& text) {
    std::promise<GenerationResult> done;
    Job j;
    j.request.prompt = tok.encode(text, true);
    j.request.max_tokens = 4;
    j.request.sampling.temperature = 0;
    j.on_done = [&](const GenerationResult& r) { done.set_value(r); };
    j.on_error = [&](const std::string& e) {
      ADD_FAILURE() << e;
      done.set_value({});
    };
    host.submit(std::move(j));
    return done.get_future().get();
  };
  const std::string system = "You are a fortune teller who answers every question with a short fortune about luck. ";
  const GenerationResult first = run(system + "Will I be rich?");
  EXPECT_EQ(first.cached_prompt_tokens, 0);
  const GenerationResult second = run(system + "Will I travel?");
  const auto a = tok.encode(system + "Will I be rich?", true), b = tok.encode(system + "Will I travel?", true);
  size_t common = 0;
  while (common < a.size() && common < b.size() && a[common] == b[common]) ++common;
  EXPECT_EQ(second.cached_prompt_tokens, int64_t(common / kKvBlock * kKvBlock));
  EXPECT_GE(second.cached_prompt_tokens, 16);
  const GenerationResult other = run("You are a pirate. " + system + "Will I be rich?");
  const auto c = tok.encode("You are a pirate. " + system + "Will I be rich?", true);
  size_t common_c = 0;
  while (common_c < a.size() && common_c < c.size() && a[common_c] == c[common_c]) ++common_c;
  EXPECT_EQ(other.cached_prompt_tokens, int64_t(common_c / kKvBlock * kKvBlock));
  EXPECT_LT(other.cached_prompt_tokens, 16);
}

}  // namespace
}  // namespace mlxcpp
