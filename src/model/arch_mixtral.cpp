// mixtral: Mistral's layers with a mixture of experts in place of each MLP, under
// block_sparse_moe, whose Hugging Face experts name their projections w1 (gate), w3 (up)
// and w2 (down).
#include "model/architecture.h"

namespace mlxcpp {

ArchTraits mixtral_traits(const ModelConfig&) {
  ArchTraits t;
  t.moe_module = "block_sparse_moe";
  t.expert_projections = {"w1", "w3", "w2"};
  return t;
}

}  // namespace mlxcpp
