// The engine's steady state: once a sequence's KV block and the scratch of a batch's shape
// exist, a decode step allocates nothing on the heap (no allocation per layer per token) —
// counted by this program's operator new — on the fast path and the f32 reference.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "runtime/engine.h"
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

}  // namespace
}  // namespace mlxcpp
