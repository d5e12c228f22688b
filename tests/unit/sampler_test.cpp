// The sampler against a plain reference of the same rules (below, on the same
// log_probabilities: the whole vocabulary sorted, each filter applied over it, mlx-lm's
// order — top_p, min_p, top_k, then temperature — and the draw walking the kept tokens by
// id): the same token for the same seed, over flat and peaked distributions and every
// combination of filters, and the log-probabilities it reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "backend/cpu/draw.h"
#include "runtime/sampler.h"
#include "sampling_grid.h"

namespace mlxcpp {
namespace {

int32_t reference_sample(const SamplingParams& p, std::mt19937_64& rng, const std::vector<float>& logits,
                         std::vector<float>& lp) {
  const size_t n = logits.size();
  lp = cpu::log_probabilities(logits);
  if (p.temperature == 0) return int32_t(std::max_element(lp.begin(), lp.end()) - lp.begin());
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return lp[size_t(a)] > lp[size_t(b)]; });
  std::vector<bool> keep(n, true);
  if (p.top_p > 0 && p.top_p < 1) {
    double cum = 0;
    bool crossed = false;
    for (int32_t id : order) {
      if (crossed) keep[size_t(id)] = false;
      cum += std::exp(double(lp[size_t(id)]));
      if (cum >= p.top_p) crossed = true;
    }
  }
  if (p.min_p > 0) {
    const float threshold = lp[size_t(order[0])] + std::log(p.min_p);
    for (size_t r = size_t(p.min_tokens_to_keep); r < n; ++r)
      if (lp[size_t(order[r])] < threshold) keep[size_t(order[r])] = false;
  }
  if (p.top_k > 0)
    for (size_t r = size_t(p.top_k); r < n; ++r) keep[size_t(order[r])] = false;
  std::vector<double> w(n, 0.0);
  double total = 0;
  const double inv_t = 1.0 / double(p.temperature), top = double(lp[size_t(order[0])]) * inv_t;
  for (size_t i = 0; i < n; ++i)
    if (keep[i]) total += w[i] = std::exp(double(lp[i]) * inv_t - top);
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng);
  for (size_t i = 0; i < n; ++i) {
    if (!keep[i]) continue;
    if (r < w[i]) return int32_t(i);
    r -= w[i];
  }
  return order[0];
}

TEST(Sampler, DrawsWhatThePlainReferenceDraws) {
  std::mt19937 gen(5);
  int checked = 0;
  for (float spread : {0.5f, 3.0f, 12.0f})  // flat to peaked
    for (const SamplingParams& p : test::sampling_filter_grid(gen)) {
      Sampler s(p);
      std::mt19937_64 ref_rng(*p.seed);
      std::normal_distribution<float> nd(0.0f, spread);
      for (int step = 0; step < 4; ++step) {
        std::vector<float> logits(3000), lp, ref_lp;
        for (auto& v : logits) v = nd(gen);
        std::vector<float> edited = logits;
        const int32_t got = cpu::draw_token(edited, s.next_draw({}, int64_t(logits.size())), &lp);
        const int32_t want = reference_sample(p, ref_rng, logits, ref_lp);
        ASSERT_EQ(got, want) << "spread " << spread << " T " << p.temperature << " top_p " << p.top_p << " top_k "
                             << p.top_k << " min_p " << p.min_p << " step " << step;
        ASSERT_EQ(lp, ref_lp);
        ++checked;
      }
    }
  EXPECT_EQ(checked, 3 * 3 * 3 * 3 * 3 * 4);
}

// mlx-lm's logits processors, written out plainly: logit_bias, then the repetition penalty
// on each distinct token of its context, the presence penalty likewise, the frequency
// penalty once per occurrence.
void reference_processors(const SamplingParams& p, std::vector<float>& logits, const std::vector<int32_t>& history) {
  const auto n = int32_t(logits.size());
  auto tail = [&](int size) {
    return std::vector<int32_t>(history.end() - std::min<ptrdiff_t>(ptrdiff_t(history.size()), size), history.end());
  };
  auto distinct = [&](int size) {
    const std::vector<int32_t> t = tail(size);
    return std::set<int32_t>(t.begin(), t.end());
  };
  for (const auto& [id, bias] : p.logit_bias)
    if (id >= 0 && id < n) logits[size_t(id)] += bias;
  if (p.repetition_penalty != 0 && p.repetition_penalty != 1)
    for (int32_t t : distinct(p.repetition_context_size)) {
      float& l = logits[size_t(t)];
      l = l < 0 ? l * p.repetition_penalty : l / p.repetition_penalty;
    }
  if (p.presence_penalty != 0)
    for (int32_t t : distinct(p.presence_context_size))
      logits[size_t(t)] -= p.presence_penalty;
  if (p.frequency_penalty != 0)
    for (int32_t t : tail(p.frequency_context_size)) logits[size_t(t)] -= p.frequency_penalty;
}

TEST(Sampler, ProcessorsChangeTheLogitsAsMlxLm) {
  std::mt19937 gen(9);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::uniform_int_distribution<int32_t> token(0, 199);  // a small vocabulary: many repeats
  int changed = 0;
  for (int c = 0; c < 200; ++c) {
    SamplingParams p;
    p.repetition_penalty = c % 4 == 0 ? 0.0f : 1.0f + float(c % 7) * 0.1f;
    p.repetition_context_size = 5 + c % 30;
    p.presence_penalty = c % 3 == 0 ? 0.0f : 0.4f;
    p.presence_context_size = 10 + c % 20;
    p.frequency_penalty = c % 5 == 0 ? 0.0f : 0.15f;
    p.frequency_context_size = 3 + c % 40;
    for (int b = 0; b < c % 6; ++b) p.logit_bias[token(gen)] = nd(gen);
    p.logit_bias[-1] = 5.0f;  // outside the vocabulary: ignored
    p.logit_bias[200] = 5.0f;
    std::vector<int32_t> history(size_t(c % 50));
    for (auto& t : history) t = token(gen);
    std::vector<float> logits(200);
    for (auto& v : logits) v = nd(gen);
    std::vector<float> want = logits, got = logits, got_lp;
    reference_processors(p, want, history);
    Sampler s(p);
    cpu::draw_token(got, s.next_draw(history, int64_t(logits.size())), &got_lp);
    ASSERT_EQ(got, want) << "case " << c;
    ASSERT_EQ(got_lp, cpu::log_probabilities(want)) << "case " << c;
    changed += got != logits;
  }
  EXPECT_GT(changed, 150);  // the cases did exercise the processors
}

TEST(Sampler, TheSameSeedDrawsTheSameTokens) {
  SamplingParams p;
  p.temperature = 1.0f, p.top_p = 0.95f, p.seed = 42;
  std::vector<float> logits(500, 0.0f);  // uniform: every token as likely
  Sampler a(p), b(p);
  std::set<int32_t> seen;
  for (int i = 0; i < 50; ++i) {
    std::vector<float> la = logits, lb = logits;
    const int32_t ta = cpu::draw_token(la, a.next_draw({}, 500)), tb = cpu::draw_token(lb, b.next_draw({}, 500));
    ASSERT_EQ(ta, tb);
    seen.insert(ta);
  }
  EXPECT_GT(seen.size(), 30u);  // and they are random draws, not one token
}

}  // namespace
}  // namespace mlxcpp
