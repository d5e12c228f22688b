// One sampled token's recipe, complete: the sampler (runtime/sampler.h) writes it from its
// parameters, the history and its random generator, and whoever holds the logits carries
// it out — the CPU (backend/cpu/draw.h) or the GPU (backend/cuda/draw.cu), so the logits
// of a GPU never cross to the host. Plain C++17, no runtime types.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace mlxcpp {

// The logits processors' change to one token, applied in mlx-lm's order: + bias, then the
// repetition penalty (× when negative, ÷ otherwise), − presence, then − frequency once per
// occurrence. A flag off leaves the logit bit-for-bit as it was.
struct LogitEdit {
  enum : uint32_t { kBias = 1, kRepetition = 2, kPresence = 4 };
  int32_t id = 0;
  uint32_t flags = 0;
  float bias = 0, repetition = 1, presence = 0, frequency = 0;
  int32_t occurrences = 0;  // frequency is subtracted this many times
};

struct TokenDraw {
  std::vector<LogitEdit> edits;  // at most one per token id
  float temperature = 0;         // 0: the largest processed logit (the first, on ties)
  int32_t top_k = 0;             // 0: off
  float top_p = 1;               // 1: off
  bool min_p = false;
  float log_min_p = 0;  // log(min_p), computed once on the host so every device agrees
  int32_t min_tokens_to_keep = 1;
  double uniform = 0;  // in [0, 1): where the draw lands in the kept tokens' weight
  // Constrained decoding: a bit per token id (bit id % 32 of word id / 32); the others'
  // logits are −∞ before anything else. Null: every token.
  std::shared_ptr<const std::vector<uint32_t>> allowed;

  // Plain greedy: the largest logit itself (of the allowed ones, under a mask), with no
  // log-softmax to take (the host and the devices take this shortcut alike).
  bool is_argmax() const { return temperature == 0 && edits.empty(); }
};

}  // namespace mlxcpp
