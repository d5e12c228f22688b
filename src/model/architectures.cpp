#include "model/architecture.h"

namespace mlxcpp {

ArchTraits traits_for(const ModelConfig& c) {
  switch (c.arch) {
    case Architecture::Llama:
    case Architecture::Mistral: return llama_traits(c);
    case Architecture::Qwen2:
    case Architecture::Qwen3: return qwen_traits(c);
    case Architecture::Phi3: return phi3_traits(c);
    case Architecture::Gemma:
    case Architecture::Gemma2: return gemma_traits(c);
  }
  return {};
}

}  // namespace mlxcpp
