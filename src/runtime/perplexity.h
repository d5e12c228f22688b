// Perplexity as defined in models/fortune-tiny-mlx-4bit-g64/reference-greedy.json: one
// tokenization with special tokens; consecutive non-overlapping windows of ctx tokens
// (a last window shorter than 2 tokens is dropped), each from an empty cache; every
// in-window prediction scored; perplexity = exp(mean negative log-likelihood).
#pragma once

#include <cstdint>
#include <string>

#include "runtime/engine.h"
#include "tokenizer/tokenizer.h"

namespace mlxcpp {

struct PerplexityResult {
  double perplexity = 0, mean_nll = 0;
  int64_t scored_tokens = 0, total_tokens = 0;
};

PerplexityResult perplexity(Engine& model, const Tokenizer& tokenizer, const std::string& text, int64_t ctx);

}  // namespace mlxcpp
