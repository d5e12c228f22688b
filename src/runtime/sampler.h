// Token sampling with mlx-lm's semantics (mlx-format.md §11): the parameters, checked, and
// for each token the recipe of its draw (backend/token_draw.h), which the backend holding
// the logits carries out (backend/cpu/draw.h, backend/cuda/draw.cu).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "backend/token_draw.h"

namespace mlxcpp {

struct SamplingParams {
  float temperature = 0.0f;
  float top_p = 1.0f;
  int top_k = 0;
  float min_p = 0.0f;
  int min_tokens_to_keep = 1;
  float repetition_penalty = 0.0f;  // 0 or 1: off
  int repetition_context_size = 20;
  float presence_penalty = 0.0f;
  int presence_context_size = 20;
  float frequency_penalty = 0.0f;
  int frequency_context_size = 20;
  std::map<int32_t, float> logit_bias;
  std::optional<uint64_t> seed;
};

// Throws Error naming the field when a value is out of range.
void validate_sampling(const SamplingParams& p);

class Sampler {
 public:
  explicit Sampler(SamplingParams params);

  // The next token's draw over a vocabulary of `vocab` (history: all tokens so far, prompt
  // included). Takes one number from the random generator when the temperature is not 0.
  TokenDraw next_draw(std::span<const int32_t> history, int64_t vocab);

  const SamplingParams& params() const { return p_; }

 private:
  std::vector<LogitEdit> edits(std::span<const int32_t> history, int64_t vocab) const;
  SamplingParams p_;
  std::mt19937_64 rng_;
};

}  // namespace mlxcpp
