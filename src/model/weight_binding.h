// Binding a model's tensors by name into the plain descriptions the backends run
// (backend/weight_matrix.h), with every shape and dtype checked: errors name the tensor.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "backend/weight_matrix.h"
#include "format/model_config.h"
#include "format/weight_set.h"

namespace mlxcpp {

// Float vectors the model owns (norm weights and biases widened to f32); their addresses
// stay valid as more are added.
class OwnedFloats {
 public:
  const float* add(std::vector<float> v) { return vectors_.emplace_back(std::move(v)).data(); }

 private:
  std::deque<std::vector<float>> vectors_;
};

// Binds `module`.weight (and .scales/.biases when quantized, .bias if `with_bias`),
// checking shapes against the expected [rows, cols].
WeightMatrix bind_weight_matrix(const WeightSet& ws, const ModelConfig& cfg, OwnedFloats& owned,
                                const std::string& module, int64_t rows, int64_t cols, bool with_bias = false);

// The experts of a mixture-of-experts projection, one [rows, cols] matrix each: views into
// MLX's stacked `stacked`.weight [experts, rows, cols] (quantized per expert, its scales and
// biases stacked alike) when the file has it, else Hugging Face's one module per expert,
// `per_expert(e)`.
std::vector<WeightMatrix> bind_expert_matrices(const WeightSet& ws, const ModelConfig& cfg, OwnedFloats& owned,
                                               const std::string& stacked,
                                               const std::function<std::string(int64_t)>& per_expert,
                                               int64_t experts, int64_t rows, int64_t cols, bool with_bias = false);

// A float vector (norm weights, biases) of `size` elements widened to f32; its tensor has
// shape [size], or `shape` when given.
std::vector<float> load_vector(const WeightSet& ws, const std::string& name, int64_t size,
                               const std::vector<int64_t>& shape = {});

}  // namespace mlxcpp
