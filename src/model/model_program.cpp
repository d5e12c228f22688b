#include "model/model_program.h"

#include <fmt/format.h>

#include <cmath>

#include "util/error.h"

namespace mlxcpp {

std::unique_ptr<LoadedModel> LoadedModel::load(const std::filesystem::path& dir, Residency residency,
                                               Precision precision) {
  ModelConfig cfg = load_model_config(dir);
  WeightSet ws = WeightSet::open(dir, residency);
  return std::unique_ptr<LoadedModel>(new LoadedModel(std::move(cfg), std::move(ws), precision));
}

LoadedModel::LoadedModel(ModelConfig cfg, WeightSet ws, Precision precision)
    : cfg_(std::move(cfg)), traits_(traits_for(cfg_)), weights_(std::move(ws)) {
  const ModelConfig& c = cfg_;
  const ArchTraits& t = traits_;
  const int64_t h = c.hidden_size, hd = c.head_dim, nq = c.num_attention_heads * hd, nkv = c.num_key_value_heads * hd;
  const int64_t ffn = c.intermediate_size;
  const WeightSet& w = weights_;
  ropes_.emplace_back(cfg_);
  ModelProgram& p = program_;
  p.hidden = h;
  p.heads = c.num_attention_heads;
  p.kv_heads = c.num_key_value_heads;
  p.head_dim = hd;
  p.ffn = ffn;
  p.expert_ffn = c.expert_intermediate_size;
  p.vocab = c.vocab_size;
  p.context = c.context_length();
  p.norm_eps = float(c.rms_norm_eps);
  p.norm_weight_offset = t.norm_weight_offset;
  p.embed_scale = t.embed_scale ? std::sqrt(float(h)) : 1.0f;
  p.final_softcap = t.final_softcap;
  p.precision = precision;
  if (c.local_rope_theta) {  // RoPE 1: the sliding layers' plain one
    local_rope_config_ = c;
    local_rope_config_.rope_theta = *c.local_rope_theta;
    local_rope_config_.rope_scaling.reset();
    ropes_.emplace_back(local_rope_config_);
  }
  for (const Rope& rope : ropes_) p.ropes.push_back({rope.dims(), rope.traditional(), rope.position_scale(), rope.mscale()});
  // The text model's names: "model.…" and "lm_head", or inside a multimodal checkpoint
  // (Gemma 3) "language_model.model.…" and "language_model.lm_head" (mlx-vlm and the
  // early transformers layout) or "model.language_model.…" (transformers v5).
  std::string mp = "model.", head = "lm_head";
  if (c.multimodal && !w.contains("model.embed_tokens.weight")) {
    if (w.contains("language_model.model.embed_tokens.weight")) mp = "language_model.model.", head = "language_model.lm_head";
    else if (w.contains("model.language_model.embed_tokens.weight")) mp = "model.language_model.";
  }
  p.embed = bind_weight_matrix(w, c, owned_, mp + "embed_tokens", c.vocab_size, h);
  // Untied embeddings need their own output matrix (mlx-lm's strict load refuses the same).
  if (!c.tie_word_embeddings && !w.contains(head + ".weight"))
    fail("config.json: tie_word_embeddings is false but the weights have no {}.weight", head);
  p.lm_head = c.tie_word_embeddings ? p.embed : bind_weight_matrix(w, c, owned_, head, c.vocab_size, h);
  p.final_norm = owned_.add(load_vector(w, mp + "norm.weight", h));
  auto norm = [&](const std::string& name, int64_t size) { return owned_.add(load_vector(w, name, size)); };
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string pre = fmt::format("{}layers.{}.", mp, i);
    LayerProgram L;
    if (!t.post_norms_only) L.attn_norm = norm(pre + "input_layernorm.weight", h);
    const float* post_attention = norm(pre + "post_attention_layernorm.weight", h);
    if (t.post_norms_only) {
      L.attn_post_norm = post_attention;
      L.ffn_post_norm = norm(pre + "post_feedforward_layernorm.weight", h);
    } else if (t.sandwich_norms) {
      L.attn_post_norm = post_attention;
      L.ffn_norm = norm(pre + "pre_feedforward_layernorm.weight", h);
      L.ffn_post_norm = norm(pre + "post_feedforward_layernorm.weight", h);
    } else {
      L.ffn_norm = post_attention;
    }
    AttentionStep& A = L.attention;
    if (t.fused_qkv) {
      A.qkv = {bind_weight_matrix(w, c, owned_, pre + "self_attn.qkv_proj", nq + 2 * nkv, h)};
    } else {
      A.qkv = {bind_weight_matrix(w, c, owned_, pre + "self_attn.q_proj", nq, h, t.qkv_bias),
               bind_weight_matrix(w, c, owned_, pre + "self_attn.k_proj", nkv, h, t.qkv_bias),
               bind_weight_matrix(w, c, owned_, pre + "self_attn.v_proj", nkv, h, t.qkv_bias)};
    }
    A.o = bind_weight_matrix(w, c, owned_, pre + "self_attn.o_proj", h, nq, t.o_bias);
    if (t.qk_norm) {
      A.qk_norm_whole = t.qk_norm_whole;
      A.q_norm = norm(pre + "self_attn.q_norm.weight", t.qk_norm_whole ? nq : hd);
      A.k_norm = norm(pre + "self_attn.k_norm.weight", t.qk_norm_whole ? nkv : hd);
    }
    A.scale = t.query_scale > 0 ? t.query_scale : 1.0f / std::sqrt(float(hd));
    if (t.attention_sinks) A.sinks = norm(pre + "self_attn.sinks", c.num_attention_heads);
    A.softcap = t.attn_softcap;
    A.rope = c.rope_layers.empty() || c.rope_layers[size_t(i)] ? 0 : -1;
    // Sliding windows as transformers applies them: where layer_types says so; every
    // layer of a Mistral with sliding_window; even layers of Gemma 2.
    bool sliding = false;
    if (c.sliding_window) {
      if (!c.layer_types.empty())
        sliding = c.layer_types[size_t(i)] == "sliding_attention";
      else if (c.arch == Architecture::Mistral || c.arch == Architecture::Phi3 || c.arch == Architecture::Mixtral)
        sliding = true;
      else if (c.arch == Architecture::Gemma2)
        sliding = i % 2 == 0;
    }
    if (sliding) {
      A.kind = AttentionKind::SlidingWindow;
      A.window = *c.sliding_window;
      if (c.local_rope_theta) A.rope = 1;
    }
    FeedForwardStep& F = L.ffn;
    F.activation = t.activation;
    if (c.is_moe_layer(i)) {
      const std::string moe = pre + t.moe_module + ".";
      const int64_t E = c.experts, fe = c.expert_intermediate_size;
      F.router = bind_weight_matrix(w, c, owned_, moe + t.router, E, h, t.router_bias);
      F.clamp_limit = float(c.swiglu_limit);
      if (w.contains(moe + "experts.gate_up_proj_blocks"))
        fail("{}: '{}experts.gate_up_proj_blocks' is OpenAI's original gpt-oss layout (fused, interleaved MXFP4); "
             "mlxcpp reads mlx-community's conversions (mlp.experts.{{gate,up,down}}_proj)",
             w.dir().string(), moe);
      F.top_k = int(c.experts_per_token);
      F.renormalize = c.normalize_top_k;
      const std::optional<FusedExperts> fused = find_fused_experts(w, moe, E, h, fe, t.interleaved_gate_up);
      auto experts = [&](int which, int64_t rows, int64_t cols) {
        const char* mlx[] = {"gate_proj", "up_proj", "down_proj"};
        if (fused)
          return bind_fused_expert_matrices(owned_, which == 0 ? fused->gate : which == 1 ? fused->up : fused->down,
                                            moe + "experts." + mlx[which]);
        return bind_expert_matrices(
            w, c, owned_, moe + t.expert_stack + "." + mlx[which],
            [&](int64_t e) { return fmt::format("{}experts.{}.{}", moe, e, t.expert_projections[size_t(which)]); }, E,
            rows, cols, t.expert_bias);
      };
      const auto gate = experts(0, fe, h), up = experts(1, fe, h), down = experts(2, h, fe);
      for (int64_t e = 0; e < E; ++e) F.experts.push_back({{gate[size_t(e)], up[size_t(e)]}, down[size_t(e)]});
    } else if (t.fused_gate_up) {
      F.dense.gate_up = {bind_weight_matrix(w, c, owned_, pre + "mlp.gate_up_proj", 2 * ffn, h)};
      F.dense.down = bind_weight_matrix(w, c, owned_, pre + "mlp.down_proj", h, ffn, t.mlp_bias);
    } else {
      F.dense.gate_up = {bind_weight_matrix(w, c, owned_, pre + "mlp.gate_proj", ffn, h, t.mlp_bias),
                         bind_weight_matrix(w, c, owned_, pre + "mlp.up_proj", ffn, h, t.mlp_bias)};
      F.dense.down = bind_weight_matrix(w, c, owned_, pre + "mlp.down_proj", h, ffn, t.mlp_bias);
    }
    p.layers.push_back(std::move(L));
  }
}

void LoadedModel::rope_freqs(int64_t total_len, std::vector<float>& out) const {
  out.clear();
  for (const Rope& r : ropes_) r.append_inv_freq(total_len, out);
}

}  // namespace mlxcpp
