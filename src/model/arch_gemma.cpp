// gemma, gemma2 and gemma3_text: (1 + w) norms, embeddings scaled by sqrt(hidden), GELU MLP
// (tanh approximation, as transformers' gelu_pytorch_tanh; see docs/deviations.md); gemma2
// adds the sandwich norms, attention/final logit soft-capping and its query scale; gemma3
// the sandwich norms, per-head q/k norms (with the 1 + w as well) and the query scale, its
// sliding layers with their own RoPE base (ModelConfig::local_rope_theta).
#include <cmath>

#include "model/architecture.h"

namespace mlxcpp {

ArchTraits gemma_traits(const ModelConfig& c) {
  ArchTraits t;
  t.norm_weight_offset = true;
  t.embed_scale = true;
  t.activation = Activation::GeluTanh;
  if (c.arch == Architecture::Gemma3) {  // sandwich norms and q/k norms, no soft-caps
    t.sandwich_norms = true;
    t.qk_norm = true;
    t.query_scale = float(1.0 / std::sqrt(c.query_pre_attn_scalar));
  }
  if (c.arch == Architecture::Gemma2) {
    t.sandwich_norms = true;
    t.attn_softcap = float(c.attn_logit_softcapping);
    t.final_softcap = float(c.final_logit_softcapping);
    t.query_scale = float(1.0 / std::sqrt(c.query_pre_attn_scalar));
  }
  return t;
}

}  // namespace mlxcpp
