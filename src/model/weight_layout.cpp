#include "model/weight_layout.h"

#include <fmt/format.h>

#include "model/architecture.h"

namespace mlxcpp {

std::vector<WeightDecl> weight_layout(const ModelConfig& c) {
  std::vector<WeightDecl> w;
  const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  const int64_t ffn = c.intermediate_size;
  const bool sandwich = c.arch == Architecture::Gemma2 || c.arch == Architecture::Gemma3;
  const bool olmo2 = c.arch == Architecture::Olmo2;
  w.push_back({"model.embed_tokens.weight", {c.vocab_size, h}, TensorRole::Embedding});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    if (!olmo2) w.push_back({p + "input_layernorm.weight", {h}, TensorRole::Norm});
    w.push_back({p + "post_attention_layernorm.weight", {h}, TensorRole::Norm});
    if (sandwich) w.push_back({p + "pre_feedforward_layernorm.weight", {h}, TensorRole::Norm});
    if (sandwich || olmo2) w.push_back({p + "post_feedforward_layernorm.weight", {h}, TensorRole::Norm});
    if (c.arch == Architecture::Phi3) {
      w.push_back({p + "self_attn.qkv_proj.weight", {q + 2 * kv, h}, TensorRole::Linear});
      w.push_back({p + "mlp.gate_up_proj.weight", {2 * ffn, h}, TensorRole::Linear});
    } else {
      w.push_back({p + "self_attn.q_proj.weight", {q, h}, TensorRole::Linear});
      w.push_back({p + "self_attn.k_proj.weight", {kv, h}, TensorRole::Linear});
      w.push_back({p + "self_attn.v_proj.weight", {kv, h}, TensorRole::Linear});
    }
    w.push_back({p + "self_attn.o_proj.weight", {h, q}, TensorRole::Linear});
    if (c.is_moe_layer(i)) {  // the router and MLX's stacked experts
      const ArchTraits t = traits_for(c);
      const std::string moe = p + t.moe_module + ".", stack = moe + t.expert_stack + ".";
      const int64_t E = c.experts, fe = c.expert_intermediate_size;
      w.push_back({moe + t.router + ".weight", {E, h}, TensorRole::Linear});
      w.push_back({stack + "gate_proj.weight", {E, fe, h}, TensorRole::Linear});
      w.push_back({stack + "up_proj.weight", {E, fe, h}, TensorRole::Linear});
      w.push_back({stack + "down_proj.weight", {E, h, fe}, TensorRole::Linear});
      if (t.router_bias) w.push_back({moe + t.router + ".bias", {E}, TensorRole::Bias});
      if (t.expert_bias) {
        w.push_back({stack + "gate_proj.bias", {E, fe}, TensorRole::Bias});
        w.push_back({stack + "up_proj.bias", {E, fe}, TensorRole::Bias});
        w.push_back({stack + "down_proj.bias", {E, h}, TensorRole::Bias});
      }
      if (t.attention_sinks) w.push_back({p + "self_attn.sinks", {c.num_attention_heads}, TensorRole::Bias});
    } else if (c.arch != Architecture::Phi3) {
      w.push_back({p + "mlp.gate_proj.weight", {ffn, h}, TensorRole::Linear});
      w.push_back({p + "mlp.up_proj.weight", {ffn, h}, TensorRole::Linear});
      w.push_back({p + "mlp.down_proj.weight", {h, ffn}, TensorRole::Linear});
    } else {
      w.push_back({p + "mlp.down_proj.weight", {h, ffn}, TensorRole::Linear});
    }
    if (c.attention_bias) {
      w.push_back({p + "self_attn.q_proj.bias", {q}, TensorRole::Bias});
      w.push_back({p + "self_attn.k_proj.bias", {kv}, TensorRole::Bias});
      w.push_back({p + "self_attn.v_proj.bias", {kv}, TensorRole::Bias});
      if (c.arch != Architecture::Qwen2) w.push_back({p + "self_attn.o_proj.bias", {h}, TensorRole::Bias});
    }
    if (c.mlp_bias && c.arch != Architecture::Phi3) {
      w.push_back({p + "mlp.gate_proj.bias", {ffn}, TensorRole::Bias});
      w.push_back({p + "mlp.up_proj.bias", {ffn}, TensorRole::Bias});
      w.push_back({p + "mlp.down_proj.bias", {h}, TensorRole::Bias});
    }
    if (c.arch == Architecture::Qwen3 || c.arch == Architecture::Qwen3Moe || c.arch == Architecture::Gemma3) {
      w.push_back({p + "self_attn.q_norm.weight", {c.head_dim}, TensorRole::Norm});
      w.push_back({p + "self_attn.k_norm.weight", {c.head_dim}, TensorRole::Norm});
    }
    if (olmo2) {  // over the whole projections
      w.push_back({p + "self_attn.q_norm.weight", {q}, TensorRole::Norm});
      w.push_back({p + "self_attn.k_norm.weight", {kv}, TensorRole::Norm});
    }
  }
  w.push_back({"model.norm.weight", {h}, TensorRole::Norm});
  if (!c.tie_word_embeddings) w.push_back({"lm_head.weight", {c.vocab_size, h}, TensorRole::Linear});
  return w;
}

}  // namespace mlxcpp

namespace mlxcpp {

std::map<std::string, QuantSpec> quantization_overrides(const ModelConfig& c) {
  std::map<std::string, QuantSpec> out;
  // mlx-lm (since 2025-08-05) keeps Qwen3-MoE's routers at 8 bits: a coarse router moves
  // tokens to other experts.
  // gpt-oss's the same (since 2025-08-29).
  if (c.arch == Architecture::Qwen3Moe || c.arch == Architecture::GptOss)
    for (int64_t i = 0; i < c.num_hidden_layers; ++i)
      if (c.is_moe_layer(i))
        out[fmt::format("model.layers.{}.mlp.{}", i, traits_for(c).router)] = {QuantMode::Affine, 8, 64};
  return out;
}

}  // namespace mlxcpp
