// The engine's steady state: once a sequence's KV block and the scratch of a batch's shape
// exist, a decode step allocates nothing on the heap (no allocation per layer per token) —
// counted by this program's operator new — on the fast path and the f32 reference. And the
// backend's draws: a batch's sequences each get the token of their own draw.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <set>
#include <vector>

#include "backend/cpu/draw.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "test_support.h"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocations{0};

}  // namespace

void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace mlxcpp {
namespace {

TEST(EngineSteadyState, DecodeStepsAllocateNothing) {
  for (const Precision precision : {Precision::Fast, Precision::F32}) {
    SCOPED_TRACE(precision == Precision::F32 ? "f32" : "fast");
    auto engine = Engine::load(test::bundled_model(), {.threads = 2, .precision = precision});
    KvSequence kv = engine->new_sequence();
    std::vector<int32_t> prompt;
    for (int32_t i = 0; i < 16; ++i) prompt.push_back(i * 7 % 200 + 3);
    std::vector<float> logits;
    g_allocations = 0;
    g_counting = true;
    engine->forward(prompt, kv, logits);  // positions 0-15: one block; the scratch grows
    g_counting = false;
    EXPECT_GT(g_allocations.load(), 0) << "the counter sees the first step's allocations";
    int32_t token = 5;
    engine->forward(std::span<const int32_t>(&token, 1), kv, logits);  // position 16 opens the second block
    g_allocations = 0;
    g_counting = true;
    for (int i = 0; i < 14; ++i) engine->forward(std::span<const int32_t>(&token, 1), kv, logits);  // 17-30
    g_counting = false;
    EXPECT_EQ(g_allocations.load(), 0);
    EXPECT_EQ(kv.length(), 31);
  }
}

// The CPU backend draws a batch's tokens over its threads: each sequence's token is the
// one its own draw gives on its own logits (computed alone), whatever the batch's order.
TEST(EngineDraws, EachSequenceOfABatchGetsItsOwnDraw) {
  auto engine = Engine::load(test::bundled_model(), {.threads = 2});
  const int64_t vocab = engine->config().vocab_size;
  const int kSequences = 6;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<TokenDraw> draws;
  for (int s = 0; s < kSequences; ++s) {
    std::vector<int32_t> prompt;
    for (int i = 0; i < 3 + 2 * s; ++i) prompt.push_back(int32_t((i * 13 + s * 29) % 300 + 3));
    prompts.push_back(prompt);
    SamplingParams p;
    p.temperature = s == 0 ? 0.0f : 0.5f + 0.25f * float(s);
    p.top_p = s % 2 ? 0.9f : 1.0f;
    p.top_k = s == 4 ? 20 : 0;
    p.seed = uint64_t(100 + s);
    draws.push_back(Sampler(p).next_draw(prompt, vocab));
  }
  std::vector<int32_t> want;
  std::vector<float> logits;
  for (int s = 0; s < kSequences; ++s) {
    KvSequence kv = engine->new_sequence();
    engine->forward(prompts[size_t(s)], kv, logits);
    want.push_back(cpu::draw_token(logits, draws[size_t(s)]));
  }
  std::vector<KvSequence> kv;
  kv.reserve(kSequences);  // the steps point into it
  std::vector<EngineStep> steps;
  for (int s = kSequences - 1; s >= 0; --s) {  // another order than alone
    kv.push_back(engine->new_sequence());
    steps.push_back({prompts[size_t(s)], &kv.back(), StepOutput::Token, &draws[size_t(s)]});
  }
  engine->forward(steps);
  std::set<int32_t> distinct;
  for (int s = 0; s < kSequences; ++s) {
    EXPECT_EQ(steps[size_t(kSequences - 1 - s)].token, want[size_t(s)]) << "sequence " << s;
    distinct.insert(want[size_t(s)]);
  }
  EXPECT_GT(distinct.size(), 2u) << "the sequences' draws differ, so a mix-up would show";
}

}  // namespace
}  // namespace mlxcpp
