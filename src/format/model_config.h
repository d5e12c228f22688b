// config.json → a typed model configuration for the architectures mlxcpp runs.
// Reads both schemas found in the wild: the classic `rope_theta` / `rope_scaling` /
// `torch_dtype` and the transformers-v5 `rope_parameters` / `dtype`. Defaults follow
// mlx-lm's ModelArgs per architecture (mlx-format.md §8).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "format/quant_config.h"

namespace mlxcpp {

enum class Architecture { Llama, Mistral, Phi3, Qwen2, Qwen3, Gemma, Gemma2, Gemma3, SmolLM3, Olmo2, Qwen3Moe, Mixtral, GptOss };

std::string_view architecture_name(Architecture a);  // the config's model_type
const std::vector<std::string>& supported_model_types();

struct RopeScaling {
  std::string type = "default";  // default, linear, dynamic, llama3, yarn, longrope (su)
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  std::optional<int64_t> original_max_position_embeddings;
  std::vector<double> long_factor, short_factor;  // longrope / su
  double beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 0.0;  // yarn
  bool truncate = true;  // yarn: the correction range rounded out to whole dimensions
};

struct ModelConfig {
  std::string model_type;
  Architecture arch = Architecture::Llama;

  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t intermediate_size = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t vocab_size = 0;
  double rms_norm_eps = 1e-5;

  double rope_theta = 10000.0;
  bool rope_traditional = false;
  std::optional<RopeScaling> rope_scaling;
  double partial_rotary_factor = 1.0;  // phi3
  std::optional<int64_t> max_position_embeddings;
  std::optional<int64_t> original_max_position_embeddings;  // phi3 (top level)

  bool tie_word_embeddings = true;
  bool attention_bias = false;  // llama; qwen2 always has q/k/v bias
  bool mlp_bias = false;
  std::optional<int64_t> sliding_window;
  std::vector<std::string> layer_types;
  std::vector<bool> rope_layers;  // smollm3: which layers rotate q and k (empty: all)

  // gemma2
  double attn_logit_softcapping = 50.0;
  double final_logit_softcapping = 30.0;
  double query_pre_attn_scalar = 144.0;
  // gemma3: the sliding layers' own RoPE (plain, this base; rope_theta and rope_scaling are
  // the global layers')
  std::optional<double> local_rope_theta;
  bool multimodal = false;  // gemma3: a vision tower beside the text model, not run here

  // Mixture of experts (qwen3_moe, mixtral): `experts` feed-forwards of width
  // expert_intermediate_size, the router's top `experts_per_token` for each token, their
  // probabilities renormalised to sum to one when normalize_top_k. Layer i is a mixture
  // iff moe_layers[i] (the others: the dense MLP of width intermediate_size).
  int64_t experts = 0;
  int64_t experts_per_token = 0;
  int64_t expert_intermediate_size = 0;
  bool normalize_top_k = false;
  std::vector<bool> moe_layers;
  double swiglu_limit = 7.0;  // gpt_oss: the clamp of its SwiGLU
  bool is_moe_layer(int64_t layer) const { return experts > 0 && moe_layers[size_t(layer)]; }

  std::string dtype;  // "bfloat16", "float16", "float32" or empty when the config has none
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // config, overridden by generation_config (mlx-lm rule)

  QuantizationConfig quantization;

  int64_t context_length() const;  // max_position_embeddings, or 4096 when absent
  // Bytes of K and V for one token over all layers at `bytes_per_element`.
  int64_t kv_bytes_per_token(int bytes_per_element) const;
};

// `label` names the file in errors. Unknown model_type → an error listing the supported ones.
ModelConfig parse_model_config(const nlohmann::json& config, const std::string& label);

// Reads dir/config.json and, when present, applies dir/generation_config.json's eos_token_id.
ModelConfig load_model_config(const std::filesystem::path& dir);

}  // namespace mlxcpp
