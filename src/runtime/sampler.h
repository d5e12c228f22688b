// Token sampling with mlx-lm's semantics (mlx-format.md §11): logits processors
// (logit_bias, repetition, presence, frequency penalties) first, then on the log-probs
// the filters top_p → min_p → top_k, and temperature last; temperature 0 is argmax.
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

// log softmax: logits − log Σ exp(logits), the sum in double after subtracting the largest.
std::vector<float> log_probabilities(std::span<const float> logits);

// Carries out a draw on logits held by the CPU: the edits in place, then the filters and
// the draw; fills `logprobs` (log-softmax of the processed logits, before filters and
// temperature) when non-null.
int32_t draw_token(std::span<float> logits, const TokenDraw& draw, std::vector<float>* logprobs = nullptr);

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
