// llama (Llama 2, 3, 3.1, 3.2, CodeLlama, TinyLlama) and mistral: the plain pre-norm
// decoder with SwiGLU; optional biases (sliding windows: model_program.cpp).
#include "model/architecture.h"

namespace mlxcpp {

ArchTraits llama_traits(const ModelConfig& c) {
  ArchTraits t;
  t.qkv_bias = t.o_bias = c.attention_bias;
  t.mlp_bias = c.mlp_bias;
  return t;
}

}  // namespace mlxcpp
