// What a device backend needs to run the decoder: shapes, the architecture's switches and
// host pointers to every weight (into the mmapped files). DecoderLM fills it after binding
// and checking the weights, so the backend knows no tensor names and no model types.
// Plain C++17 (the CUDA sources include it).
#pragma once

#include <cstdint>
#include <vector>

namespace mlxcpp {

// A linear layer's weight as stored: float (F32/F16/BF16) or MLX-quantized.
struct MatrixPlan {
  int64_t rows = 0, cols = 0;
  enum class Kind { F32, F16, BF16, Affine, MxFp4, MxFp8, NvFp4 } kind = Kind::F32;
  int bits = 0, group_size = 0;     // quantized kinds
  int scale_bytes = 0;              // affine: 4 (f32), 2 (f16 or bf16); fp modes: 1
  bool scales_f16 = false;          // affine with 2-byte scales: f16 (else bf16)
  const uint8_t* data = nullptr;    // rows × cols elements, packed for quantized kinds
  const uint8_t* scales = nullptr;  // rows × cols/group_size
  const uint8_t* biases = nullptr;  // affine: same shape and dtype as scales
  const float* bias = nullptr;      // the Linear's additive bias [rows], or null

  bool quantized() const { return kind >= Kind::Affine; }
  uint64_t data_bytes() const {
    if (!quantized()) return uint64_t(rows * cols) * (kind == Kind::F32 ? 4u : 2u);
    return uint64_t(rows * cols) * uint64_t(bits) / 8u;
  }
  uint64_t scale_bytes_total() const { return quantized() ? uint64_t(rows * cols / group_size) * uint64_t(scale_bytes) : 0; }
  bool same_format(const MatrixPlan& o) const {
    return cols == o.cols && kind == o.kind && bits == o.bits && group_size == o.group_size &&
           scale_bytes == o.scale_bytes && scales_f16 == o.scales_f16 && (bias != nullptr) == (o.bias != nullptr);
  }
};

enum class PlanActivation { Silu, Gelu, GeluTanh };

struct LayerPlan {
  const float* input_norm = nullptr;
  const float* post_attn_norm = nullptr;   // before the MLP (llama) or after attention (gemma2)
  const float* pre_ffn_norm = nullptr;     // gemma2 only
  const float* post_ffn_norm = nullptr;    // gemma2 only
  const float* q_norm = nullptr;           // qwen3 only [head_dim]
  const float* k_norm = nullptr;
  std::vector<MatrixPlan> qkv;      // q, k, v (or one fused qkv): outputs concatenated
  std::vector<MatrixPlan> gate_up;  // gate, up (or one fused gate_up)
  MatrixPlan o, down;
  bool sliding = false;
};

struct DecoderPlan {
  int64_t hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, ffn = 0, vocab = 0, context = 0;
  float norm_eps = 1e-6f;
  bool norm_weight_offset = false, embed_scale = false, sandwich_norms = false;
  PlanActivation activation = PlanActivation::Silu;
  float attn_softcap = 0, final_softcap = 0, query_scale = 0;
  int64_t sliding_window = 0;  // 0: none
  // RoPE: the first rope_dims features of each head rotate; positions are scaled by
  // position_scale (linear scaling), cos and sin by mscale (yarn / longrope).
  int64_t rope_dims = 0;
  bool rope_traditional = false;
  double position_scale = 1.0;
  float rope_mscale = 1.0f;
  bool f32 = false;  // the reference precision: f32 activations, KV cache and matmuls
  MatrixPlan embed, lm_head;
  const float* final_norm = nullptr;
  std::vector<LayerPlan> layers;
};

}  // namespace mlxcpp
