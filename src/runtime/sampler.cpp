#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

std::vector<LogitEdit> Sampler::edits(std::span<const int32_t> history, int64_t vocab) const {
  std::map<int32_t, LogitEdit> by_id;
  auto edit = [&](int32_t id) -> LogitEdit* {
    if (id < 0 || id >= vocab) return nullptr;
    LogitEdit& e = by_id[id];
    e.id = id;
    return &e;
  };
  auto tail = [&](int size) { return history.subspan(history.size() - std::min<size_t>(history.size(), size_t(size))); };
  for (const auto& [id, bias] : p_.logit_bias)
    if (LogitEdit* e = edit(id)) e->flags |= LogitEdit::kBias, e->bias = bias;
  if (p_.repetition_penalty != 0 && p_.repetition_penalty != 1)
    for (int32_t t : tail(p_.repetition_context_size))  // each distinct recent token once
      if (LogitEdit* e = edit(t)) e->flags |= LogitEdit::kRepetition, e->repetition = p_.repetition_penalty;
  if (p_.presence_penalty != 0)
    for (int32_t t : tail(p_.presence_context_size))
      if (LogitEdit* e = edit(t)) e->flags |= LogitEdit::kPresence, e->presence = p_.presence_penalty;
  if (p_.frequency_penalty != 0)
    for (int32_t t : tail(p_.frequency_context_size))  // once per occurrence
      if (LogitEdit* e = edit(t)) e->frequency = p_.frequency_penalty, ++e->occurrences;
  std::vector<LogitEdit> out;
  out.reserve(by_id.size());
  for (auto& [id, e] : by_id) out.push_back(e);
  return out;
}

TokenDraw Sampler::next_draw(std::span<const int32_t> history, int64_t vocab) {
  TokenDraw d;
  d.temperature = p_.temperature;
  d.top_k = p_.top_k;
  d.top_p = p_.top_p;
  d.min_p = p_.min_p > 0;
  d.log_min_p = d.min_p ? std::log(p_.min_p) : 0.0f;
  d.min_tokens_to_keep = p_.min_tokens_to_keep;
  // As std::uniform_real_distribution<double>(0, total) draws: total × this number.
  if (d.temperature != 0) d.uniform = std::generate_canonical<double, std::numeric_limits<double>::digits>(rng_);
  d.edits = edits(history, vocab);
  return d;
}

}  // namespace mlxcpp
