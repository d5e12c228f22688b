#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "util/error.h"

namespace mlxcpp {

void validate_sampling(const SamplingParams& p) {
  if (!(p.temperature >= 0)) fail("temperature must be >= 0, got {}", p.temperature);
  if (!(p.top_p > 0 && p.top_p <= 1)) fail("top_p must be in (0, 1], got {}", p.top_p);
  if (p.top_k < 0) fail("top_k must be >= 0, got {}", p.top_k);
  if (!(p.min_p >= 0 && p.min_p <= 1)) fail("min_p must be in [0, 1], got {}", p.min_p);
  if (p.repetition_penalty < 0) fail("repetition_penalty must be >= 0, got {}", p.repetition_penalty);
  for (int size : {p.repetition_context_size, p.presence_context_size, p.frequency_context_size})
    if (size < 0) fail("penalty context sizes must be >= 0, got {}", size);
  if (p.min_tokens_to_keep < 1) fail("min_tokens_to_keep must be >= 1");
}

Sampler::Sampler(SamplingParams params) : p_(std::move(params)) {
  validate_sampling(p_);
  rng_.seed(p_.seed ? *p_.seed : std::random_device{}());
}

void Sampler::process_logits(std::span<float> logits, std::span<const int32_t> history) const {
  const auto n = int64_t(logits.size());
  auto tail = [&](int size) { return history.subspan(history.size() - std::min<size_t>(history.size(), size_t(size))); };
  for (const auto& [id, bias] : p_.logit_bias)
    if (id >= 0 && id < n) logits[size_t(id)] += bias;
  if (p_.repetition_penalty != 0 && p_.repetition_penalty != 1) {
    // CTRL-style: each distinct recent token once (an indexed assignment in mlx-lm).
    std::set<int32_t> seen(tail(p_.repetition_context_size).begin(), tail(p_.repetition_context_size).end());
    for (int32_t t : seen) {
      if (t < 0 || t >= n) continue;
      float& l = logits[size_t(t)];
      l = l < 0 ? l * p_.repetition_penalty : l / p_.repetition_penalty;
    }
  }
  if (p_.presence_penalty != 0) {
    std::set<int32_t> seen(tail(p_.presence_context_size).begin(), tail(p_.presence_context_size).end());
    for (int32_t t : seen)
      if (t >= 0 && t < n) logits[size_t(t)] -= p_.presence_penalty;
  }
  if (p_.frequency_penalty != 0)
    for (int32_t t : tail(p_.frequency_context_size))
      if (t >= 0 && t < n) logits[size_t(t)] -= p_.frequency_penalty;  // once per occurrence
}

bool Sampler::plain_greedy() const {
  const bool repetition = p_.repetition_penalty != 0.0f && p_.repetition_penalty != 1.0f;
  return p_.temperature == 0 && !repetition && p_.presence_penalty == 0.0f && p_.frequency_penalty == 0.0f &&
         p_.logit_bias.empty();
}

int32_t Sampler::sample(std::span<const float> logits, std::vector<float>* logprobs_out) {
  const size_t n = logits.size();
  float mx = -INFINITY;
  for (float l : logits) mx = std::max(mx, l);
  double sum = 0;
  for (float l : logits) sum += std::exp(double(l - mx));
  const float lse = mx + float(std::log(sum));
  std::vector<float> lp(n);
  for (size_t i = 0; i < n; ++i) lp[i] = logits[i] - lse;
  if (logprobs_out) *logprobs_out = lp;

  if (p_.temperature == 0) return int32_t(std::max_element(lp.begin(), lp.end()) - lp.begin());

  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return lp[size_t(a)] > lp[size_t(b)]; });
  std::vector<bool> keep(n, true);
  // top_p: keep the smallest top set whose probability reaches top_p (the token that
  // crosses the threshold included), as mlx-lm's ascending-cumsum > 1 - top_p rule.
  if (p_.top_p > 0 && p_.top_p < 1) {
    double cum = 0;
    bool crossed = false;
    for (int32_t id : order) {
      if (crossed) keep[size_t(id)] = false;
      cum += std::exp(double(lp[size_t(id)]));
      if (cum >= p_.top_p) crossed = true;
    }
  }
  if (p_.min_p > 0) {
    const float threshold = lp[size_t(order[0])] + std::log(p_.min_p);
    for (size_t r = size_t(p_.min_tokens_to_keep); r < n; ++r)
      if (lp[size_t(order[r])] < threshold) keep[size_t(order[r])] = false;
  }
  if (p_.top_k > 0)
    for (size_t r = size_t(p_.top_k); r < n; ++r) keep[size_t(order[r])] = false;

  // Temperature last, on the filtered log-probs.
  std::vector<double> w(n, 0.0);
  double total = 0;
  const double inv_t = 1.0 / double(p_.temperature);
  const double top = double(lp[size_t(order[0])]) * inv_t;
  for (size_t i = 0; i < n; ++i)
    if (keep[i]) total += w[i] = std::exp(double(lp[i]) * inv_t - top);
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng_);
  for (size_t i = 0; i < n; ++i) {
    if (!keep[i]) continue;
    if (r < w[i]) return int32_t(i);
    r -= w[i];
  }
  return order[0];
}

}  // namespace mlxcpp
