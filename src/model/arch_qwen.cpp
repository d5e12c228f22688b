// qwen2: llama with biases on q, k and v (none on o). qwen3: no biases, per-head q/k
// RMSNorm before RoPE. qwen3_moe: qwen3 with mixture-of-experts layers (ModelConfig).
#include "model/architecture.h"

namespace mlxcpp {

ArchTraits qwen_traits(const ModelConfig& c) {
  ArchTraits t;
  if (c.arch == Architecture::Qwen2) t.qkv_bias = true;
  if (c.arch == Architecture::Qwen3 || c.arch == Architecture::Qwen3Moe) t.qk_norm = true;
  return t;
}

}  // namespace mlxcpp
