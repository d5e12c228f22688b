// The model program: what a decoder-only transformer computes, as data. The model layer
// (model/model_program.h) turns config.json and the weights into one; a backend
// (backend/backend.h) executes it. Layers are a fixed sequence of steps whose parameters
// vary per layer — norms (absent where null), attention (its kind, window, RoPE, q/k norms,
// soft-cap, scale) and the feed-forward — so an architecture is a way of filling these
// fields, and a new kind of step is a new field that the backends learn to execute (or
// refuse through Backend::unsupported). Plain data, no kernels.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/weight_matrix.h"

namespace mlxcpp {

// Of the gate, times the up projection; ClampedSwiglu (gpt-oss): g = min(gate, limit),
// u = clamp(up, ±limit): g · sigmoid(1.702 g) · (u + 1).
enum class Activation { Silu, Gelu, GeluTanh, ClampedSwiglu };

enum class AttentionKind {
  Full,           // every earlier position
  SlidingWindow,  // the last `window` positions, this one included
};

// A rotary embedding's constants. Its inverse frequencies may depend on the sequence's
// length (dynamic NTK, longrope), so they come with each sequence of a batch.
struct RopeSpec {
  int64_t dims = 0;  // the first `dims` features of each head rotate
  bool traditional = false;
  double position_scale = 1.0;  // linear scaling
  float mscale = 1.0f;          // yarn / longrope attention factor on q and k
};

struct AttentionStep {
  AttentionKind kind = AttentionKind::Full;
  int64_t window = 0;             // SlidingWindow
  int rope = 0;                   // index into ModelProgram::ropes; -1: no rotary embedding
  std::vector<WeightMatrix> qkv;  // q, k, v (or one fused matrix): outputs side by side
  WeightMatrix o;
  const float* q_norm = nullptr;  // RMSNorm of q and k before RoPE: per head [head_dim], or
  const float* k_norm = nullptr;  // over the whole projection [heads · head_dim] (qk_norm_whole)
  bool qk_norm_whole = false;
  float scale = 1.0f;    // on q·k
  float softcap = 0.0f;  // 0: none
  // A learned logit per query head [heads] in each softmax beside the scores (gpt-oss's
  // sinks): it takes a share of the weight and brings no value. Null: none.
  const float* sinks = nullptr;
};

// A gated feed-forward: down(act(gate x) · up x).
struct GatedProjections {
  std::vector<WeightMatrix> gate_up;  // gate, up (or one fused matrix): outputs side by side
  WeightMatrix down;
};

// A dense gated MLP of width ModelProgram::ffn, or a mixture of experts (when `experts` is
// not empty): the softmax of the router's logits over all experts, in f32; each token's
// top_k experts (the lower index first among equal probabilities), their probabilities
// renormalised to sum to one when `renormalize`; the output is the sum of the chosen
// experts' outputs (gated feed-forwards of width ModelProgram::expert_ffn) times those.
struct FeedForwardStep {
  Activation activation = Activation::Silu;
  float clamp_limit = 7.0f;  // ClampedSwiglu
  GatedProjections dense;
  WeightMatrix router;  // [experts, hidden]
  std::vector<GatedProjections> experts;
  int top_k = 0;
  bool renormalize = false;
  bool mixture() const { return !experts.empty(); }
};

// x += post_norm(attention(norm(x))); x += post_norm(ffn(norm(x))) (a norm absent where
// null: then its input as it is).
struct LayerProgram {
  const float* attn_norm = nullptr;
  const float* attn_post_norm = nullptr;  // Gemma 2's sandwich norms
  AttentionStep attention;
  const float* ffn_norm = nullptr;
  const float* ffn_post_norm = nullptr;
  FeedForwardStep ffn;
};

struct ModelProgram {
  int64_t hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, ffn = 0, vocab = 0, context = 0;
  int64_t expert_ffn = 0;  // the width of each expert (mixture-of-experts layers)
  float norm_eps = 1e-6f;
  bool norm_weight_offset = false;  // Gemma: norms scale by (1 + w)
  float embed_scale = 1.0f;         // on the embedding rows
  float final_softcap = 0.0f;       // on the logits; 0: none
  Precision precision = Precision::F32;
  std::vector<RopeSpec> ropes;
  WeightMatrix embed, lm_head;  // lm_head may be the embedding (tied)
  const float* final_norm = nullptr;
  std::vector<LayerProgram> layers;

  int64_t rope_freqs() const {  // inverse frequencies per sequence, all RoPEs together
    int64_t n = 0;
    for (const RopeSpec& r : ropes) n += r.dims / 2;
    return n;
  }
};

}  // namespace mlxcpp
