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
#include "model/expert_layout.h"

namespace mlxcpp {

// What the model owns beside the mapped files: float vectors (norm weights and biases
// widened to f32) and weights rearranged at load; their addresses stay valid as more are added.
class OwnedData {
 public:
  const float* add(std::vector<float> v) { return floats_.emplace_back(std::move(v)).data(); }
  const uint8_t* add(std::vector<uint8_t> v) { return bytes_.emplace_back(std::move(v)).data(); }

 private:
  std::deque<std::vector<float>> floats_;
  std::deque<std::vector<uint8_t>> bytes_;
};

// Binds `module`.weight (and .scales/.biases when quantized, .bias if `with_bias`),
// checking shapes against the expected [rows, cols].
WeightMatrix bind_weight_matrix(const WeightSet& ws, const ModelConfig& cfg, OwnedData& owned,
                                const std::string& module, int64_t rows, int64_t cols, bool with_bias = false);

// The experts of a mixture-of-experts projection, one [rows, cols] matrix each: views into
// MLX's stacked `stacked`.weight [experts, rows, cols] (quantized per expert, its scales and
// biases stacked alike) when the file has it, else Hugging Face's one module per expert,
// `per_expert(e)`. (transformers' fused tensors: bind_fused_expert_matrices.)
std::vector<WeightMatrix> bind_expert_matrices(const WeightSet& ws, const ModelConfig& cfg, OwnedData& owned,
                                               const std::string& stacked,
                                               const std::function<std::string(int64_t)>& per_expert,
                                               int64_t experts, int64_t rows, int64_t cols, bool with_bias = false);

// One projection of transformers' fused experts (model/expert_layout.h): views where an
// expert's matrix is contiguous in the file, else a row-major copy in the file's dtype.
std::vector<WeightMatrix> bind_fused_expert_matrices(OwnedData& owned, const ExpertProjection& projection,
                                                     const std::string& name);

// A float vector (norm weights, biases) of `size` elements widened to f32; its tensor has
// shape [size], or `shape` when given.
std::vector<float> load_vector(const WeightSet& ws, const std::string& name, int64_t size,
                               const std::vector<int64_t>& shape = {});

}  // namespace mlxcpp
