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
#include <vector>

#include "runtime/sampler.h"

namespace mlxcpp {
namespace {

int32_t reference_sample(const SamplingParams& p, std::mt19937_64& rng, const std::vector<float>& logits,
                         std::vector<float>& lp) {
  const size_t n = logits.size();
  lp = log_probabilities(logits);
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
    for (float temperature : {0.0f, 0.7f, 1.3f})
      for (float top_p : {1.0f, 0.9f, 0.3f})
        for (int top_k : {0, 1, 40})
          for (float min_p : {0.0f, 0.05f, 0.5f}) {
            SamplingParams p;
            p.temperature = temperature, p.top_p = top_p, p.top_k = top_k, p.min_p = min_p;
            p.min_tokens_to_keep = top_k == 1 ? 3 : 1;
            p.seed = uint64_t(gen());
            Sampler s(p);
            std::mt19937_64 ref_rng(*p.seed);
            std::normal_distribution<float> nd(0.0f, spread);
            for (int step = 0; step < 4; ++step) {
              std::vector<float> logits(3000), lp, ref_lp;
              for (auto& v : logits) v = nd(gen);
              const int32_t got = s.sample(logits, &lp);
              const int32_t want = reference_sample(p, ref_rng, logits, ref_lp);
              ASSERT_EQ(got, want) << "spread " << spread << " T " << temperature << " top_p " << top_p << " top_k "
                                   << top_k << " min_p " << min_p << " step " << step;
              ASSERT_EQ(lp, ref_lp);
              ++checked;
            }
          }
  EXPECT_EQ(checked, 3 * 3 * 3 * 3 * 3 * 4);
}

}  // namespace
}  // namespace mlxcpp
