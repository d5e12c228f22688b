// Perplexity as defined in models/fortune-tiny-mlx-4bit-g64/reference-greedy.json: one
// tokenization with special tokens; consecutive non-overlapping windows of ctx tokens
// (a last window shorter than 2 tokens is dropped), each from an empty cache; every
// in-window prediction scored; perplexity = exp(mean negative log-likelihood).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "runtime/engine.h"
#include "tokenizer/tokenizer.h"

namespace mlxcpp {

struct PerplexityResult {
  double perplexity = 0, mean_nll = 0;
  int64_t scored_tokens = 0, total_tokens = 0;
};

// `on_window(done, total)`, when given, is called after each window (for a progress line).
PerplexityResult perplexity(Engine& model, const Tokenizer& tokenizer, const std::string& text, int64_t ctx,
                            const std::function<void(int64_t done, int64_t total)>& on_window = {});

}  // namespace mlxcpp
