// Configurations of real models for `mlxcpp synth`: the shapes of Llama 3.1 8B, Llama 3.2
// 1B, Phi-3.5 mini, Qwen2.5 0.5B, Mistral 7B and TinyLlama 1.1B, each paired with a real
// tokenizer from data/tokenizers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mlxcpp {

struct SynthPreset {
  std::string name;
  std::string tokenizer;  // folder under data/tokenizers
  nlohmann::json config;  // an HF config.json
  std::string note;       // where shapes differ from the real model
};

const std::vector<SynthPreset>& synth_presets();
const SynthPreset* find_synth_preset(const std::string& name);

}  // namespace mlxcpp
