// The CPU's draw: a TokenDraw carried out on logits in host memory (cuda/draw.cu is the
// GPU's). The CPU backend draws its batch's tokens with it; the runtime draws with it when
// it holds the logits (log-probabilities wanted, or a draw a device cannot carry out).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backend/token_draw.h"

namespace mlxcpp::cpu {

// log softmax: logits − log Σ exp(logits), the sum in double after subtracting the largest.
std::vector<float> log_probabilities(std::span<const float> logits);

// The edits in place, then the filters and the draw; fills `logprobs` (log-softmax of the
// processed logits, before filters and temperature) when non-null.
int32_t draw_token(std::span<float> logits, const TokenDraw& draw, std::vector<float>* logprobs = nullptr);

}  // namespace mlxcpp::cpu
