// The draw of a TokenDraw (backend/token_draw.h) on logits held by the CPU, with mlx-lm's
// semantics (mlx-format.md §11): logits processors (logit_bias, repetition, presence,
// frequency penalties) first, then on the log-probs the filters top_p → min_p → top_k,
// and temperature last; temperature 0 is argmax. The CUDA backend's twin is cuda/draw.cu.
#include "backend/cpu/draw.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace mlxcpp::cpu {

namespace {

void apply_edits(std::span<float> logits, const std::vector<LogitEdit>& edits) {
  for (const LogitEdit& e : edits) {
    if (e.id < 0 || size_t(e.id) >= logits.size()) continue;
    float& l = logits[size_t(e.id)];
    if (e.flags & LogitEdit::kBias) l += e.bias;
    if (e.flags & LogitEdit::kRepetition) l = l < 0 ? l * e.repetition : l / e.repetition;
    if (e.flags & LogitEdit::kPresence) l -= e.presence;
    for (int32_t k = 0; k < e.occurrences; ++k) l -= e.frequency;
  }
}

// Candidates for the filters: the tokens within `width` nats of the best. Every filter keeps
// a prefix of the vocabulary sorted by log-probability, so sorting these few instead of the
// whole vocabulary gives the same prefix whenever they suffice (checked by the caller).
std::vector<int32_t> within(const std::vector<float>& lp, float best, float width) {
  std::vector<int32_t> ids;
  const float cut = best - width;
  for (size_t i = 0; i < lp.size(); ++i)
    if (!(lp[i] < cut)) ids.push_back(int32_t(i));  // -inf is below any cut
  return ids;
}

// Best first, ties by id: one 64-bit key per token (the float's bits made to order as
// integers, inverted, then the id) sorts several times faster than an indirect comparison.
void sort_best_first(std::vector<int32_t>& ids, const std::vector<float>& lp) {
  std::vector<uint64_t> keys(ids.size());
  for (size_t j = 0; j < ids.size(); ++j) {
    const float v = lp[size_t(ids[j])] == 0.0f ? 0.0f : lp[size_t(ids[j])];  // -0 as +0
    uint32_t u;
    std::memcpy(&u, &v, 4);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // ascending with the float
    keys[j] = (uint64_t(~u) << 32) | uint32_t(ids[j]);
  }
  std::sort(keys.begin(), keys.end());
  for (size_t j = 0; j < ids.size(); ++j) ids[j] = int32_t(keys[j] & 0xffffffffu);
}

void log_probabilities_into(std::span<const float> logits, std::vector<float>& lp) {
  float mx = -INFINITY;
  for (float l : logits) mx = std::max(mx, l);
  double sum = 0;
  for (float l : logits) sum += std::exp(double(l - mx));
  const float lse = mx + float(std::log(sum));
  lp.resize(logits.size());
  for (size_t i = 0; i < lp.size(); ++i) lp[i] = logits[i] - lse;
}

// A draw's vocabulary-sized buffers, kept by each thread that draws (a pool's threads live
// as long as their backend): allocated per token, 1.5 MB at a vocabulary of 128k, zeroed
// and often fresh pages from the kernel, they cost several times the draw's arithmetic.
struct DrawScratch {
  std::vector<float> lp;
  std::vector<double> prob, weight;
};

// The filters and the draw of `d` on processed logits.
int32_t pick(std::span<const float> logits, const TokenDraw& d, std::vector<float>* logprobs_out) {
  const size_t n = logits.size();
  thread_local DrawScratch scratch;
  std::vector<float>& lp = scratch.lp;
  log_probabilities_into(logits, lp);
  if (logprobs_out) *logprobs_out = lp;

  const size_t argmax = size_t(std::max_element(lp.begin(), lp.end()) - lp.begin());
  if (d.temperature == 0) return int32_t(argmax);
  const float best = lp[argmax];

  // The kept tokens are the shortest of the prefixes (by log-probability) that the filters
  // keep: top_p the smallest whose probability reaches top_p (the token that crosses it
  // included, as mlx-lm's ascending-cumsum > 1 - top_p rule), min_p those within log(min_p)
  // of the best (at least min_tokens_to_keep), top_k the first k.
  const bool top_p = d.top_p > 0 && d.top_p < 1;
  const bool min_p = d.min_p;
  const bool top_k = d.top_k > 0;
  std::vector<int32_t> kept;                 // empty: the whole vocabulary
  std::vector<double>& prob = scratch.prob;  // top_p: each token's probability, computed once
  if (top_p) {
    prob.resize(n);
    for (size_t i = 0; i < n; ++i) prob[i] = std::exp(double(lp[i]));
  }
  if (top_p || min_p || top_k) {
    for (float width = 4.0f;; width *= 2) {
      std::vector<int32_t> order = within(lp, best, width);
      const bool all = order.size() == n;
      // Enough candidates: they hold top_p's probability, and neither top_k nor min_p asks for
      // more than they hold (min_p's threshold lies above the cut while log(min_p) > -width).
      if (!all) {
        if ((top_k && order.size() < size_t(d.top_k)) ||
            (min_p && (d.log_min_p <= -width || order.size() < size_t(d.min_tokens_to_keep))))
          continue;
        if (top_p) {
          double mass = 0;
          for (int32_t id : order) mass += prob[size_t(id)];
          if (mass < d.top_p) continue;
        }
      }
      sort_best_first(order, lp);
      size_t keep = order.size();
      if (top_k) keep = std::min(keep, size_t(d.top_k));
      if (min_p) {
        const float threshold = best + d.log_min_p;
        size_t r = std::min(size_t(d.min_tokens_to_keep), order.size());
        while (r < order.size() && !(lp[size_t(order[r])] < threshold)) ++r;
        keep = std::min(keep, r);
      }
      if (top_p) {
        double cum = 0;
        size_t r = 0;
        while (r < order.size() && cum < d.top_p) cum += prob[size_t(order[r++])];
        if (cum < d.top_p && !all) continue;  // rounding left it short of the crossing: widen
        keep = std::min(keep, r);
      }
      order.resize(keep);
      kept = std::move(order);
      break;
    }
    std::sort(kept.begin(), kept.end());  // the draw walks the kept tokens by id
  }

  // Temperature last, on the filtered log-probs; the draw walks the kept tokens by id.
  const double inv_t = 1.0 / double(d.temperature);
  const double top = double(best) * inv_t;
  std::vector<double>& w = scratch.weight;
  w.resize(kept.empty() ? n : kept.size());
  auto id_at = [&](size_t j) { return kept.empty() ? j : size_t(kept[j]); };
  double total = 0;
  for (size_t j = 0; j < w.size(); ++j) total += w[j] = std::exp(double(lp[id_at(j)]) * inv_t - top);
  double r = d.uniform * total;
  for (size_t j = 0; j < w.size(); ++j) {
    if (r < w[j]) return int32_t(id_at(j));
    r -= w[j];
  }
  return int32_t(argmax);
}

}  // namespace

std::vector<float> log_probabilities(std::span<const float> logits) {
  std::vector<float> lp;
  log_probabilities_into(logits, lp);
  return lp;
}

int32_t draw_token(std::span<float> logits, const TokenDraw& draw, std::vector<float>* logprobs) {
  // Greedy decoding on the CPU takes no log-softmax (two passes over the vocabulary, one
  // with an exponential per token), as before draws existed and as the GPU's argmax.
  if (draw.is_argmax() && !logprobs && !draw.allowed)
    return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  if (draw.allowed) {
    const std::vector<uint32_t>& m = *draw.allowed;
    for (size_t i = 0; i < logits.size(); ++i)  // (ids past the mask's end are outside it)
      if ((i >> 5) >= m.size() || !((m[i >> 5] >> (i & 31)) & 1u)) logits[i] = -std::numeric_limits<float>::infinity();
    if (draw.is_argmax() && !logprobs) return int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  apply_edits(logits, draw.edits);
  return pick(logits, draw, logprobs);
}

}  // namespace mlxcpp::cpu
