// Rotary position embedding on the CPU, with the arithmetic of transformers: the angle
// and its cosine and sine in float32.
#pragma once

#include <cstdint>

#include "backend/program.h"

namespace mlxcpp::cpu {

// Rotates the first rope.dims features of each of `heads` vectors (stride head_dim) to
// position `pos`, with the inverse frequencies `inv_freq` (rope.dims / 2).
void rope_rotate(float* x, int64_t heads, int64_t head_dim, int64_t pos, const RopeSpec& rope, const float* inv_freq);

}  // namespace mlxcpp::cpu
