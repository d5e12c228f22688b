#include "model/architecture.h"

namespace mlxcpp {

ArchTraits traits_for(const ModelConfig& c) {
  switch (c.arch) {
    case Architecture::Llama:
    case Architecture::Mistral:
    case Architecture::SmolLM3: return llama_traits(c);  // (+ layers without RoPE: ModelConfig::rope_layers)
    case Architecture::Qwen2:
    case Architecture::Qwen3:
    case Architecture::Qwen3Moe: return qwen_traits(c);  // (+ mixture-of-experts layers)
    case Architecture::Mixtral: return mixtral_traits(c);
    case Architecture::Phi3: return phi3_traits(c);
    case Architecture::Gemma:
    case Architecture::Gemma2:
    case Architecture::Gemma3: return gemma_traits(c);
    case Architecture::Olmo2: return olmo2_traits(c);
    case Architecture::GptOss: return gpt_oss_traits(c);
  }
  return {};
}

}  // namespace mlxcpp
