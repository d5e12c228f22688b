// gpt_oss: biases on every attention projection, a learned sink logit per query head,
// sliding and full layers (ModelConfig::layer_types), YaRN RoPE, and in every layer a
// mixture of experts whose router and experts have biases and whose activation is the
// clamped SwiGLU. Experts as MLX stacks them, mlp.experts.{gate,up,down}_proj, or as
// transformers saves them (model/expert_layout.h).
#include "model/architecture.h"

namespace mlxcpp {

ArchTraits gpt_oss_traits(const ModelConfig&) {
  ArchTraits t;
  t.qkv_bias = t.o_bias = true;
  t.attention_sinks = true;
  t.activation = Activation::ClampedSwiglu;
  t.router = "router";
  t.expert_stack = "experts";
  t.router_bias = t.expert_bias = true;
  t.interleaved_gate_up = true;
  return t;
}

}  // namespace mlxcpp
