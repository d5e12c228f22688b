#include "format/quant_config.h"

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace mlxcpp {
namespace {

using nlohmann::json;

// Reads {"group_size", "bits", "mode"} where null or missing means the mode's default.
QuantSpec parse_spec(const json& j, const std::optional<QuantSpec>& inherit, const std::string& where) {
  QuantMode mode = inherit ? inherit->mode : QuantMode::Affine;
  if (auto it = j.find("mode"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) fail("{}: 'mode' must be a string", where);
    const auto m = parse_quant_mode(it->get<std::string>());
    if (!m) fail("{}: unknown quantization mode '{}' (supported: affine, mxfp4, mxfp8, nvfp4)", where,
                 it->get<std::string>());
    mode = *m;
  }
  QuantSpec spec = default_quant_spec(mode);
  auto read_int = [&](const char* key, int& out) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return;
    if (!it->is_number_integer()) fail("{}: '{}' must be an integer, got {}", where, key, it->dump());
    out = it->get<int>();
  };
  read_int("bits", spec.bits);
  read_int("group_size", spec.group_size);
  validate_quant_spec(spec, where);
  return spec;
}

}  // namespace

std::optional<QuantSpec> QuantizationConfig::spec_for(const std::string& module_path, bool has_scales) const {
  if (const auto it = overrides.find(module_path); it != overrides.end()) {
    if (it->second && !has_scales)
      fail("config quantization lists '{}' as quantized but the weights have no '{}.scales'", module_path,
           module_path);
    if (!it->second && has_scales)
      fail("config quantization marks '{}' as not quantized but the weights have '{}.scales'", module_path,
           module_path);
    return it->second;
  }
  if (!has_scales) return std::nullopt;
  if (!global)
    fail("weights have '{}.scales' but config.json has no 'quantization' entry", module_path);
  return global;
}

QuantizationConfig parse_quantization_config(const json& config, const std::string& label) {
  QuantizationConfig q;
  const json* entry = nullptr;
  if (auto it = config.find("quantization"); it != config.end() && !it->is_null()) entry = &*it;
  else if (auto qc = config.find("quantization_config");
           qc != config.end() && qc->is_object() && qc->contains("bits") && !qc->contains("quant_method"))
    entry = &*qc;
  if (!entry) return q;
  const std::string where = label + ": quantization";
  if (!entry->is_object()) fail("{}: must be an object", where);
  q.global = parse_spec(*entry, std::nullopt, where);
  for (const auto& [key, value] : entry->items()) {
    if (key == "group_size" || key == "bits" || key == "mode") continue;
    const std::string sub = where + "." + key;
    if (value.is_boolean()) q.overrides[key] = value.get<bool>() ? q.global : std::nullopt;
    else if (value.is_object()) q.overrides[key] = parse_spec(value, std::nullopt, sub);
    else fail("{}: must be an object or a boolean, got {}", sub, value.dump());
  }
  return q;
}

json quantization_to_json(const QuantizationConfig& q) {
  json j = json::object();
  if (!q.global) return j;
  j["group_size"] = q.global->group_size;
  j["bits"] = q.global->bits;
  j["mode"] = std::string(quant_mode_name(q.global->mode));
  for (const auto& [path, spec] : q.overrides) {
    if (!spec) j[path] = false;
    else j[path] = {{"group_size", spec->group_size}, {"bits", spec->bits}, {"mode", std::string(quant_mode_name(spec->mode))}};
  }
  return j;
}

}  // namespace mlxcpp
