// The server's scheduler (ModelHost) on the bundled model, CPU: continuous batching gives
// every request the tokens it gets alone (admitted while others decode, too); a KV pool
// too small for every stream preempts and recomputes without changing any client's text;
// cancelling frees the stream's blocks at once; 64 clients all start before any finishes.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "runtime/generator.h"
#include "server/model_host.h"
#include "test_support.h"

namespace mlxcpp {
namespace {

using Clock = std::chrono::steady_clock;

HostOptions host_options(int max_active, int64_t pool_tokens = 0) {
  HostOptions o;
  o.engine.threads = 2;
  o.engine.kv_pool_tokens = pool_tokens;
  o.max_active = max_active;
  return o;
}

// One submitted job's outcome and when its first text and its end arrived.
struct Outcome {
  std::promise<GenerationResult> done;
  std::string text, error;
  Clock::time_point first_text{}, finished{};
  std::mutex mu;
};

Job job_for(const GenerationRequest& r, Outcome& out) {
  Job j;
  j.request = r;
  j.on_text = [&out](const std::string& t) {
    std::lock_guard lock(out.mu);
    if (out.text.empty()) out.first_text = Clock::now();
    out.text += t;
  };
  j.on_done = [&out](const GenerationResult& res) {
    out.finished = Clock::now();
    out.done.set_value(res);
  };
  j.on_error = [&out](const std::string& e) {
    out.error = e;
    out.done.set_value(GenerationResult{});
  };
  return j;
}

GenerationRequest greedy(const Tokenizer& tok, const std::string& prompt, int max_tokens) {
  GenerationRequest r;
  r.prompt = tok.encode(prompt, true);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  return r;
}

const std::vector<std::string> kPrompts = {"The best way to", "Once upon a time", "You will find",
                                           "A friend is", "Today brings", "Luck favours"};

// The tokens each prompt gets alone, on an engine of its own.
std::vector<GenerationResult> alone(const std::vector<GenerationRequest>& reqs) {
  auto tok = Tokenizer::load(test::bundled_model());
  auto engine = Engine::load(test::bundled_model(), host_options(1).engine);
  std::vector<GenerationResult> out;
  for (const auto& r : reqs) out.push_back(generate(*engine, *tok, r));
  return out;
}

TEST(ContinuousBatching, StreamsGetTheTokensTheyGetAloneEvenWhenAdmittedMidway) {
  ModelHost host("m", test::bundled_model(), host_options(8));
  std::vector<GenerationRequest> reqs;
  for (const auto& p : kPrompts) reqs.push_back(greedy(host.tokenizer(), p, 40));
  reqs[0].max_tokens = 120;  // still decoding when the others arrive
  const auto expected = alone(reqs);

  std::vector<Outcome> outs(reqs.size());
  host.submit(job_for(reqs[0], outs[0]));
  // The others are admitted while the first decodes.
  for (int i = 0; i < 2000; ++i) {
    {
      std::lock_guard lock(outs[0].mu);
      if (outs[0].text.size() > 8) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (size_t i = 1; i < reqs.size(); ++i) host.submit(job_for(reqs[i], outs[i]));
  for (size_t i = 0; i < reqs.size(); ++i) {
    const GenerationResult got = outs[i].done.get_future().get();
    EXPECT_EQ(outs[i].error, "");
    EXPECT_EQ(got.ids, expected[i].ids) << kPrompts[i];
    EXPECT_EQ(outs[i].text, expected[i].text) << kPrompts[i];
  }
  const HostStats s = host.stats();
  // Batched: fewer steps than tokens generated, more than one sequence per step on average.
  EXPECT_GT(double(s.step_sequences) / double(s.steps), 1.5) << s.steps << " steps, " << s.step_sequences << " sequences";
  EXPECT_EQ(s.preemptions, 0u);
}

TEST(ContinuousBatching, AFullKvPoolPreemptsAndTheTextIsUnchanged) {
  // 128 positions (8 blocks) for 4 streams that grow to 20-106 positions: they cannot all hold
  // their caches, so the newest gives way and recomputes.
  ModelHost host("m", test::bundled_model(), host_options(4, 128));
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 4; ++i) reqs.push_back(greedy(host.tokenizer(), kPrompts[size_t(i)], 100));
  const auto expected = alone(reqs);
  std::vector<Outcome> outs(reqs.size());
  // Together, so that they overlap however this thread is scheduled (one at a time, a
  // loaded machine could let the first run far ahead, and the pool would then hold them).
  std::vector<Job> jobs;
  for (size_t i = 0; i < reqs.size(); ++i) jobs.push_back(job_for(reqs[i], outs[i]));
  host.submit(std::move(jobs));
  for (size_t i = 0; i < reqs.size(); ++i) {
    const GenerationResult got = outs[i].done.get_future().get();
    EXPECT_EQ(outs[i].error, "");
    EXPECT_EQ(got.ids, expected[i].ids) << kPrompts[i];
    EXPECT_EQ(outs[i].text, expected[i].text) << kPrompts[i];
  }
  EXPECT_GT(host.stats().preemptions, 0u);
}

TEST(ContinuousBatching, CancellingFreesTheStreamsBlocksAtOnce) {
  ModelHost host("m", test::bundled_model(), host_options(4));
  Outcome out;
  Job j = job_for(greedy(host.tokenizer(), "Once upon a time", 200), out);
  auto cancel = j.cancel;
  host.submit(std::move(j));
  for (int i = 0; i < 5000 && host.stats().kv_blocks_used == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_GT(host.stats().kv_blocks_used, 0);
  cancel->store(true);
  const GenerationResult r = out.done.get_future().get();
  EXPECT_EQ(r.finish_reason, "cancelled");
  EXPECT_EQ(host.stats().kv_blocks_used, 0);  // not even kept as a cached prefix
}

TEST(ContinuousBatching, SixtyFourClientsAllStartBeforeAnyFinishes) {
  ModelHost host("m", test::bundled_model(), host_options(64));
  std::vector<Outcome> outs(64);
  for (size_t i = 0; i < outs.size(); ++i) {
    GenerationRequest r = greedy(host.tokenizer(), kPrompts[i % kPrompts.size()], 24);
    r.sampling.temperature = 0.8f;  // different texts, so that none stops on the same token
    r.sampling.seed = uint64_t(i);
    host.submit(job_for(r, outs[i]));
  }
  Clock::time_point last_start{}, first_end = Clock::time_point::max();
  for (auto& o : outs) {
    o.done.get_future().get();
    EXPECT_EQ(o.error, "");
    if (o.first_text != Clock::time_point{}) last_start = std::max(last_start, o.first_text);
    first_end = std::min(first_end, o.finished);
  }
  EXPECT_LT(last_start, first_end);
  const HostStats s = host.stats();
  EXPECT_GT(double(s.step_sequences) / double(s.steps), 16.0);
}

}  // namespace
}  // namespace mlxcpp
