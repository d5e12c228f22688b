// The `quantization` entry of an MLX config.json: the model-wide spec plus per-module
// overrides (a spec, or false for "not quantized"). mlx-format.md §2.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "quant/quant_spec.h"

namespace mlxcpp {

struct QuantizationConfig {
  std::optional<QuantSpec> global;  // absent: the model is not quantized
  // Module path (tensor name without ".weight") → spec, or nullopt for `false`.
  std::map<std::string, std::optional<QuantSpec>> overrides;

  bool empty() const { return !global && overrides.empty(); }

  // MLX's load rule: a module is quantized iff its `.scales` tensor exists; its spec is
  // the override if there is one, else the global spec. Throws Error if the file has
  // `.scales` but the config gives no spec, or says `false`.
  std::optional<QuantSpec> spec_for(const std::string& module_path, bool has_scales) const;
};

// Reads config["quantization"] (falling back to "quantization_config" when it has MLX's
// shape). `label` names the file in errors.
QuantizationConfig parse_quantization_config(const nlohmann::json& config, const std::string& label);

// The JSON form mlx_lm.convert writes (mode included).
nlohmann::json quantization_to_json(const QuantizationConfig& q);

}  // namespace mlxcpp
