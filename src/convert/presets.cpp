#include "convert/presets.h"

namespace mlxcpp {
namespace {

using nlohmann::json;

// Phi-3.5's real longrope factors are 48 measured numbers per list; the synthetic model
// keeps their shape (one per rotary pair, long > short) with a smooth ramp instead.
json ramp(int n, double from, double to) {
  json a = json::array();
  for (int i = 0; i < n; ++i) a.push_back(from + (to - from) * double(i) / double(n - 1));
  return a;
}

std::vector<SynthPreset> make_presets() {
  std::vector<SynthPreset> p;
  p.push_back({"llama-3.1-8b", "llama3.1",
               json{{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 4096},
                    {"intermediate_size", 14336}, {"num_hidden_layers", 32}, {"num_attention_heads", 32},
                    {"num_key_value_heads", 8}, {"head_dim", 128}, {"vocab_size", 128256}, {"rms_norm_eps", 1e-5},
                    {"rope_theta", 500000.0}, {"max_position_embeddings", 131072},
                    {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                      {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}}},
                    {"tie_word_embeddings", false}, {"bos_token_id", 128000},
                    {"eos_token_id", {128001, 128008, 128009}}, {"torch_dtype", "bfloat16"}},
               ""});
  p.push_back({"llama-3.2-1b", "llama3.1",
               json{{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 2048},
                    {"intermediate_size", 8192}, {"num_hidden_layers", 16}, {"num_attention_heads", 32},
                    {"num_key_value_heads", 8}, {"head_dim", 64}, {"vocab_size", 128256}, {"rms_norm_eps", 1e-5},
                    {"rope_theta", 500000.0}, {"max_position_embeddings", 131072},
                    {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 32.0}, {"low_freq_factor", 1.0},
                                      {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}}},
                    {"tie_word_embeddings", true}, {"bos_token_id", 128000},
                    {"eos_token_id", {128001, 128008, 128009}}, {"torch_dtype", "bfloat16"}},
               ""});
  p.push_back({"phi-3.5-mini", "phi-3-mini-4k-instruct",
               json{{"architectures", {"Phi3ForCausalLM"}}, {"model_type", "phi3"}, {"hidden_size", 3072},
                    {"intermediate_size", 8192}, {"num_hidden_layers", 32}, {"num_attention_heads", 32},
                    {"num_key_value_heads", 32}, {"vocab_size", 32064}, {"rms_norm_eps", 1e-5},
                    {"rope_theta", 10000.0}, {"max_position_embeddings", 131072},
                    {"original_max_position_embeddings", 4096}, {"sliding_window", 262144},
                    {"rope_scaling", {{"type", "longrope"}, {"long_factor", ramp(48, 1.0, 60.0)},
                                      {"short_factor", ramp(48, 1.0, 3.0)}}},
                    {"tie_word_embeddings", false}, {"bos_token_id", 1}, {"eos_token_id", {32000, 32001, 32007}},
                    {"torch_dtype", "bfloat16"}},
               "longrope factors are a smooth ramp, not Phi-3.5's measured lists; tokenizer is Phi-3 mini's "
               "(the same 32011-token vocabulary)"});
  p.push_back({"qwen2.5-0.5b", "qwen3",
               json{{"architectures", {"Qwen2ForCausalLM"}}, {"model_type", "qwen2"}, {"hidden_size", 896},
                    {"intermediate_size", 4864}, {"num_hidden_layers", 24}, {"num_attention_heads", 14},
                    {"num_key_value_heads", 2}, {"vocab_size", 151936}, {"rms_norm_eps", 1e-6},
                    {"rope_theta", 1000000.0}, {"max_position_embeddings", 32768}, {"tie_word_embeddings", true},
                    {"bos_token_id", 151643}, {"eos_token_id", 151645}, {"torch_dtype", "bfloat16"}},
               "tokenizer is Qwen3's (Qwen2.5's byte-level BPE plus a few added tokens)"});
  p.push_back({"mistral-7b", "mistral-7b-v0.1",
               json{{"architectures", {"MistralForCausalLM"}}, {"model_type", "mistral"}, {"hidden_size", 4096},
                    {"intermediate_size", 14336}, {"num_hidden_layers", 32}, {"num_attention_heads", 32},
                    {"num_key_value_heads", 8}, {"vocab_size", 32000}, {"rms_norm_eps", 1e-5},
                    {"rope_theta", 10000.0}, {"max_position_embeddings", 32768}, {"sliding_window", 4096},
                    {"tie_word_embeddings", false}, {"bos_token_id", 1}, {"eos_token_id", 2},
                    {"torch_dtype", "bfloat16"}},
               ""});
  p.push_back({"tinyllama-1.1b", "tinyllama-1.1b-chat-v1.0",
               json{{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 2048},
                    {"intermediate_size", 5632}, {"num_hidden_layers", 22}, {"num_attention_heads", 32},
                    {"num_key_value_heads", 4}, {"vocab_size", 32000}, {"rms_norm_eps", 1e-5},
                    {"rope_theta", 10000.0}, {"max_position_embeddings", 2048}, {"tie_word_embeddings", false},
                    {"bos_token_id", 1}, {"eos_token_id", 2}, {"torch_dtype", "bfloat16"}},
               ""});
  // The text model of Gemma 3 4B as mlx-community's gemma3_text conversions hold it: 5
  // sliding layers (window 1024, RoPE base 1e4) to each global one (base 1e6, linear ×8).
  p.push_back({"gemma-3-4b", "gemma3",
               json{{"architectures", {"Gemma3ForCausalLM"}}, {"model_type", "gemma3_text"}, {"hidden_size", 2560},
                    {"intermediate_size", 10240}, {"num_hidden_layers", 34}, {"num_attention_heads", 8},
                    {"num_key_value_heads", 4}, {"head_dim", 256}, {"vocab_size", 262208}, {"rms_norm_eps", 1e-6},
                    {"rope_theta", 1000000.0}, {"rope_local_base_freq", 10000.0},
                    {"rope_scaling", {{"rope_type", "linear"}, {"factor", 8.0}}}, {"sliding_window", 1024},
                    {"sliding_window_pattern", 6}, {"query_pre_attn_scalar", 256}, {"max_position_embeddings", 131072},
                    {"hidden_activation", "gelu_pytorch_tanh"}, {"bos_token_id", 2}, {"eos_token_id", {1, 106}},
                    {"torch_dtype", "bfloat16"}},
               "shapes as recalled for Gemma 3 4B (no real config.json could be read here: "
               "../shared/reference/mlx-archs-2.md marks them unverified)"});
  // Mixtures of experts: Qwen3-30B-A3B (128 experts of width 768, 8 per token, every layer;
  // ~3.3B of its ~30.5B parameters active per token) and Mixtral 8x7B (8 experts of the
  // dense width, 2 per token).
  p.push_back({"qwen3-30b-a3b", "qwen3",
               json{{"architectures", {"Qwen3MoeForCausalLM"}}, {"model_type", "qwen3_moe"}, {"hidden_size", 2048},
                    {"intermediate_size", 6144}, {"moe_intermediate_size", 768}, {"num_hidden_layers", 48},
                    {"num_attention_heads", 32}, {"num_key_value_heads", 4}, {"head_dim", 128},
                    {"num_experts", 128}, {"num_experts_per_tok", 8}, {"decoder_sparse_step", 1},
                    {"mlp_only_layers", json::array()}, {"norm_topk_prob", true}, {"vocab_size", 151936},
                    {"rms_norm_eps", 1e-6}, {"rope_theta", 1000000.0}, {"max_position_embeddings", 40960},
                    {"tie_word_embeddings", false}, {"bos_token_id", 151643}, {"eos_token_id", 151645},
                    {"torch_dtype", "bfloat16"}},
               "shapes as recalled for Qwen3-30B-A3B (../shared/reference/mlx-archs-2.md marks them recalled)"});
  p.push_back({"mixtral-8x7b", "mistral-7b-v0.1",
               json{{"architectures", {"MixtralForCausalLM"}}, {"model_type", "mixtral"}, {"hidden_size", 4096},
                    {"intermediate_size", 14336}, {"num_hidden_layers", 32}, {"num_attention_heads", 32},
                    {"num_key_value_heads", 8}, {"num_local_experts", 8}, {"num_experts_per_tok", 2},
                    {"vocab_size", 32000}, {"rms_norm_eps", 1e-5}, {"rope_theta", 1000000.0},
                    {"max_position_embeddings", 32768}, {"tie_word_embeddings", false}, {"bos_token_id", 1},
                    {"eos_token_id", 2}, {"torch_dtype", "bfloat16"}},
               ""});
  // gpt-oss-20b (openai's config.json as quoted in ../shared/reference/mlx-archs-2.md): 24
  // layers alternating sliding (128) and full attention, 32 experts of width 2880, 4 per token.
  json layer_types = json::array();
  for (int i = 0; i < 24; ++i) layer_types.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
  p.push_back({"gpt-oss-20b", "llama3.1",
               json{{"architectures", {"GptOssForCausalLM"}}, {"model_type", "gpt_oss"}, {"hidden_size", 2880},
                    {"intermediate_size", 2880}, {"num_hidden_layers", 24}, {"num_attention_heads", 64},
                    {"num_key_value_heads", 8}, {"head_dim", 64}, {"num_local_experts", 32},
                    {"num_experts_per_tok", 4}, {"experts_per_token", 4}, {"vocab_size", 201088},
                    {"rms_norm_eps", 1e-5}, {"rope_theta", 150000.0}, {"sliding_window", 128},
                    {"layer_types", layer_types}, {"swiglu_limit", 7.0}, {"max_position_embeddings", 131072},
                    {"rope_scaling", {{"rope_type", "yarn"}, {"factor", 32.0}, {"beta_fast", 32.0}, {"beta_slow", 1.0},
                                      {"original_max_position_embeddings", 4096}, {"truncate", false}}},
                    {"tie_word_embeddings", false}, {"eos_token_id", {200002, 199999, 200012}},
                    {"pad_token_id", 199999}, {"torch_dtype", "bfloat16"}},
               "tokenizer is Llama 3.1's (gpt-oss's o200k_harmony is not bundled): ids past its 128,256 "
               "have no text"});
  return p;
}

}  // namespace

const std::vector<SynthPreset>& synth_presets() {
  static const std::vector<SynthPreset> presets = make_presets();
  return presets;
}

const SynthPreset* find_synth_preset(const std::string& name) {
  for (const auto& p : synth_presets())
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace mlxcpp
