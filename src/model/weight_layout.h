// The tensors each architecture expects, in Hugging Face naming, unquantized: the one
// place that says which weights a llama / phi3 / qwen2 / qwen3 / gemma(2) model has and
// their shapes. synth generates from it; the engine checks loaded models against it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/model_config.h"

namespace mlxcpp {

enum class TensorRole { Embedding, Linear, Norm, Bias };

struct WeightDecl {
  std::string name;
  std::vector<int64_t> shape;
  TensorRole role;
};

std::vector<WeightDecl> weight_layout(const ModelConfig& config);

}  // namespace mlxcpp
