// phi3 (Phi-3, Phi-3.5, Phi-4-mini): fused qkv_proj and gate_up_proj, partial rotary
// factor, longrope for the 128k models.
#include "model/architecture.h"

namespace mlxcpp {

ArchTraits phi3_traits(const ModelConfig&) {
  ArchTraits t;
  t.fused_qkv = true;
  t.fused_gate_up = true;
  return t;
}

}  // namespace mlxcpp
