// transformers' fused expert tensors, seen one expert at a time. MLX stacks each projection
// of a mixture's experts ([experts, rows, cols], bound as views); Hugging Face checkpoints
// keep one module per expert or, as transformers v5 saves them, one tensor per projection:
//   qwen3_moe, mixtral:  <moe>experts.gate_up_proj [E, 2F, H] (gate rows, then up rows),
//                        <moe>experts.down_proj    [E, H, F]
//   gpt_oss:             <moe>experts.gate_up_proj [E, H, 2F] (transposed; gate and up
//                        interleaved, columns 2i and 2i + 1), <moe>experts.down_proj [E, F, H],
//                        with gate_up_proj_bias [E, 2F] (interleaved) and down_proj_bias [E, H]
// (gpt_oss saved untransposed, [E, 2F, H] and [E, H, F], is read too).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "format/weight_set.h"

namespace mlxcpp {

// A [rows, cols] matrix inside a float tensor: element (r, c) is element
// offset + r·row_stride + c·col_stride of `tensor`.
struct StridedMatrix {
  TensorView tensor;
  int64_t rows = 0, cols = 0;
  int64_t offset = 0, row_stride = 0, col_stride = 1;

  bool contiguous() const { return col_stride == 1 && row_stride == cols; }
  const uint8_t* start() const { return tensor.data + uint64_t(offset) * dtype_size(tensor.dtype()); }
  void read_row(int64_t r, float* out) const;              // widened to f32
  std::vector<uint8_t> copy_contiguous() const;            // in the tensor's dtype, row-major
};

// A vector of `size` elements inside a float tensor, `stride` apart from `offset`.
struct StridedVector {
  TensorView tensor;
  int64_t size = 0, offset = 0, stride = 1;
  std::vector<float> read() const;
};

// One projection (gate, up or down) of every expert.
struct ExpertProjection {
  std::vector<StridedMatrix> weights;  // per expert
  std::vector<StridedVector> biases;   // per expert; empty when the layout has none
};

struct FusedExperts {
  ExpertProjection gate, up, down;
  std::vector<std::string> tensors;  // the checkpoint tensors they were read from
};

// The fused experts of the mixture module `moe` ("model.layers.N.mlp."), or nullopt when the
// checkpoint has no `<moe>experts.gate_up_proj`. `interleaved`: gpt_oss's gate/up columns.
// Shapes are checked; errors name the tensor.
std::optional<FusedExperts> find_fused_experts(const WeightSet& ws, const std::string& moe, int64_t experts,
                                               int64_t hidden, int64_t expert_width, bool interleaved);

}  // namespace mlxcpp
