// What distinguishes the supported architectures inside the shared decoder. Each
// architecture states its traits in its own file (arch_*.cpp); architectures.cpp is
// the one place that maps a model_type to them.
#pragma once

#include <array>

#include "backend/program.h"
#include "format/model_config.h"

namespace mlxcpp {

struct ArchTraits {
  bool fused_qkv = false;       // phi3: self_attn.qkv_proj
  bool fused_gate_up = false;   // phi3: mlp.gate_up_proj
  bool qkv_bias = false;        // qwen2 (and llama with attention_bias)
  bool o_bias = false;          // llama with attention_bias
  bool mlp_bias = false;
  bool qk_norm = false;         // qwen3: per-head RMSNorm on q and k before RoPE
  bool norm_weight_offset = false;  // gemma: norms scale by (1 + w)
  bool embed_scale = false;     // gemma: embeddings times sqrt(hidden_size)
  bool sandwich_norms = false;  // gemma2: post-attention and pre/post-feedforward norms
  Activation activation = Activation::Silu;
  float attn_softcap = 0.0f;    // gemma2: 0 = none
  float final_softcap = 0.0f;
  float query_scale = 0.0f;     // 0: head_dim^-0.5
  bool post_norms_only = false;  // olmo2: no norm before attention or the MLP, a norm after each
  bool qk_norm_whole = false;    // olmo2: q/k RMSNorm over the whole projection, before the heads split
  // Mixture-of-experts layers (ModelConfig::is_moe_layer): the module that holds the router
  // (`.gate`) and the experts, MLX's `.switch_mlp.{gate,up,down}_proj` stacked, or Hugging
  // Face's `.experts.E.<name>` with these names of the gate, up and down projections.
  const char* moe_module = "mlp";
  std::array<const char*, 3> expert_projections = {"gate_proj", "up_proj", "down_proj"};
  const char* router = "gate";              // gpt_oss: router
  const char* expert_stack = "switch_mlp";  // gpt_oss: experts (MLX's stacked experts)
  bool router_bias = false, expert_bias = false;  // gpt_oss
  bool interleaved_gate_up = false;  // gpt_oss: transformers' fused gate_up_proj alternates gate and up
  bool attention_sinks = false;  // gpt_oss: self_attn.sinks, a learned logit per query head
};

ArchTraits llama_traits(const ModelConfig& c);
ArchTraits qwen_traits(const ModelConfig& c);
ArchTraits phi3_traits(const ModelConfig& c);
ArchTraits gemma_traits(const ModelConfig& c);
ArchTraits olmo2_traits(const ModelConfig& c);
ArchTraits mixtral_traits(const ModelConfig& c);
ArchTraits gpt_oss_traits(const ModelConfig& c);

// The registry: model_type → traits.
ArchTraits traits_for(const ModelConfig& c);

}  // namespace mlxcpp
