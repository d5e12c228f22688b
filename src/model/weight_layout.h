// The tensors each architecture expects, unquantized, named as mlx-community's files name
// them (Hugging Face's names; a mixture of experts as MLX stacks it: the router
// `<moe>.gate` and `<moe>.switch_mlp.{gate,up,down}_proj` [experts, rows, cols]): the one
// place that says which weights a model has and their shapes. synth generates from it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "format/model_config.h"
#include "quant/quant_spec.h"

namespace mlxcpp {

enum class TensorRole { Embedding, Linear, Norm, Bias };

struct WeightDecl {
  std::string name;
  std::vector<int64_t> shape;
  TensorRole role;
};

std::vector<WeightDecl> weight_layout(const ModelConfig& config);

// The modules mlx-lm's conversion quantizes otherwise than the model-wide spec (its
// per-model quant_predicate), by module path.
std::map<std::string, QuantSpec> quantization_overrides(const ModelConfig& config);

}  // namespace mlxcpp
