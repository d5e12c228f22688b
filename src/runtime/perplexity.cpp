#include "runtime/perplexity.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace mlxcpp {

PerplexityResult perplexity(Engine& model, const Tokenizer& tok, const std::string& text, int64_t ctx,
                            const std::function<void(int64_t, int64_t)>& on_window) {
  if (ctx < 2) fail("perplexity: --ctx must be at least 2, got {}", ctx);
  if (ctx > model.config().context_length())
    fail("perplexity: --ctx {} exceeds the model's context of {}", ctx, model.config().context_length());
  const std::vector<int32_t> ids = tok.encode(text, true);
  PerplexityResult r;
  r.total_tokens = int64_t(ids.size());
  const int64_t vocab = model.config().vocab_size;
  double nll = 0;
  std::vector<float> logits;
  const int64_t windows = (int64_t(ids.size()) + ctx - 1) / ctx;
  for (int64_t start = 0; start < int64_t(ids.size()); start += ctx) {
    if (on_window && start > 0) on_window(start / ctx, windows);
    const int64_t n = std::min<int64_t>(ctx, int64_t(ids.size()) - start);
    if (n < 2) break;
    KvSequence cache = model.new_sequence();
    model.forward(std::span<const int32_t>(ids).subspan(size_t(start), size_t(n)), cache, logits, true);
    for (int64_t t = 0; t + 1 < n; ++t) {
      const float* row = &logits[size_t(t * vocab)];
      double mx = -INFINITY;
      for (int64_t v = 0; v < vocab; ++v) mx = std::max(mx, double(row[v]));
      double sum = 0;
      for (int64_t v = 0; v < vocab; ++v) sum += std::exp(double(row[v]) - mx);
      nll -= double(row[ids[size_t(start + t + 1)]]) - mx - std::log(sum);
      ++r.scored_tokens;
    }
  }
  if (on_window) on_window(windows, windows);
  if (r.scored_tokens == 0) fail("perplexity: the text has fewer than 2 tokens");
  r.mean_nll = nll / double(r.scored_tokens);
  r.perplexity = std::exp(r.mean_nll);
  return r;
}

}  // namespace mlxcpp
