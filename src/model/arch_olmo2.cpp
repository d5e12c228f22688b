// olmo2: llama with its norms after attention and after the MLP instead of before
// (x + norm(attn(x)), then h + norm(mlp(h))), and q/k RMSNorm over the whole q and k
// projections before they split into heads.
#include "model/architecture.h"

namespace mlxcpp {

ArchTraits olmo2_traits(const ModelConfig& c) {
  ArchTraits t = llama_traits(c);
  t.post_norms_only = true;
  t.qk_norm = true;
  t.qk_norm_whole = true;
  return t;
}

}  // namespace mlxcpp
