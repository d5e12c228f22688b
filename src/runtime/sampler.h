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

class Sampler {
 public:
  explicit Sampler(SamplingParams params);

  // Applies the logits processors in place (history: all tokens so far, prompt included).
  void process_logits(std::span<float> logits, std::span<const int32_t> history) const;
  // Samples from processed logits; also fills `logprobs` (log-softmax of the processed
  // logits, before filters and temperature) when non-null.
  int32_t sample(std::span<const float> logits, std::vector<float>* logprobs = nullptr);

  const SamplingParams& params() const { return p_; }
  // Temperature 0 and no logits processor: the next token is the logits' argmax, which
  // the model can compute where the logits are (DecoderLM::forward_greedy).
  bool plain_greedy() const;

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
};

}  // namespace mlxcpp
