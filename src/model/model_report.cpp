#include "model/model_report.h"

#include <fmt/format.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "format/weight_set.h"
#include "util/error.h"

namespace mlxcpp {
namespace {

// "model.layers.12.mlp.down_proj.weight" → "mlp.down_proj"; "model.embed_tokens.weight" → "embed_tokens".
std::string tensor_class(const std::string& module_path) {
  std::string c = module_path;
  const std::string prefix = "model.layers.";
  if (c.starts_with(prefix)) {
    size_t i = prefix.size();
    while (i < c.size() && std::isdigit(static_cast<unsigned char>(c[i]))) ++i;
    if (i > prefix.size() && i < c.size() && c[i] == '.') c = c.substr(i + 1);
  }
  if (c.starts_with("model.")) c = c.substr(6);
  return c;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{:.{}f} {}", b, u == 0 ? 0 : 2, units[u]);
}

}  // namespace

ModelReport build_model_report(const std::filesystem::path& dir) {
  ModelReport r;
  r.dir = dir;
  r.config = load_model_config(dir);
  const WeightSet ws = WeightSet::open(dir);
  r.shards = int(ws.files().size());
  r.disk_bytes = ws.file_bytes();
  std::map<std::string, int64_t> dtype_count;

  for (const auto& name : ws.names()) {
    const TensorView t = ws.get(name);
    r.weight_bytes += t.nbytes();
    if (name.ends_with(".scales") || name.ends_with(".biases")) {
      const std::string module = name.substr(0, name.size() - 7);
      if (!ws.contains(module + ".weight")) fail("{}: tensor '{}' has no matching '{}.weight'", dir.string(), name, module);
      continue;  // counted with their weight
    }
    std::string module = name;
    if (name.ends_with(".weight")) module = name.substr(0, name.size() - 7);
    else if (name.ends_with(".bias")) module = name.substr(0, name.size() - 5);
    const bool is_weight = name.ends_with(".weight");
    const bool has_scales = is_weight && ws.contains(module + ".scales");
    const auto spec = is_weight ? r.config.quantization.spec_for(module, has_scales) : std::nullopt;
    TensorClassInfo& cls = r.classes[tensor_class(module) + (is_weight ? "" : name.substr(module.size()))];
    int64_t params = t.numel();
    uint64_t bytes = t.nbytes();
    if (spec) {
      const TensorView scales = ws.get(module + ".scales");
      if (t.dtype() != DType::U32) fail("{}: quantized tensor '{}' must be U32, is {}", dir.string(), name, dtype_name(t.dtype()));
      if (t.shape().empty() || scales.shape().size() != t.shape().size())
        fail("{}: '{}' and its scales have different ranks", dir.string(), name);
      const int64_t in_packed = t.shape().back() * 32 / spec->bits;
      const int64_t in_groups = scales.shape().back() * spec->group_size;
      if (in_packed != in_groups)
        fail("{}: '{}' is inconsistent with {}: packed columns give {} inputs, scales give {}", dir.string(), name,
             spec->to_string(), in_packed, in_groups);
      if (spec->has_biases() != ws.contains(module + ".biases"))
        fail("{}: '{}' is {} but {} '{}.biases'", dir.string(), name, spec->to_string(),
             spec->has_biases() ? "has no" : "has an unexpected", module);
      params = t.numel() / t.shape().back() * in_packed;
      bytes += scales.nbytes();
      if (spec->has_biases()) bytes += ws.get(module + ".biases").nbytes();
      cls.format = fmt::format("{} (scales {})", spec->to_string(), dtype_name(scales.dtype()));
    } else {
      cls.format = std::string(dtype_name(t.dtype()));
      if (dtype_is_float(t.dtype())) dtype_count[cls.format] += t.numel();
    }
    cls.tensors += 1;
    cls.parameters += params;
    cls.bytes += bytes;
    r.parameters += params;
    // A token reads only its experts' share of the expert tensors (MLX's stacked switch_mlp
    // or one tensor per expert).
    const bool expert = r.config.experts > 0 && (module.find(".switch_mlp.") != std::string::npos ||
                                                  module.find(".experts.") != std::string::npos);
    const double share = expert ? double(r.config.experts_per_token) / double(r.config.experts) : 1.0;
    r.active_parameters += int64_t(double(params) * share);
    // (An untied embedding table gives one row per token; the output head reads all of it.)
    const bool lookup_only = module.ends_with("embed_tokens") && !r.config.tie_word_embeddings;
    r.active_weight_bytes += lookup_only ? 0 : uint64_t(double(bytes) * share);
  }
  int64_t best = -1;
  for (const auto& [d, n] : dtype_count)
    if (n > best) {
      best = n;
      r.float_dtype = d;
    }
  r.kv_bytes_per_1k_tokens = r.config.kv_bytes_per_token(2) * 1024;
  return r;
}

nlohmann::json model_report_to_json(const ModelReport& r) {
  nlohmann::json j;
  const ModelConfig& c = r.config;
  j["path"] = r.dir.string();
  j["architecture"] = c.model_type;
  j["parameters"] = r.parameters;
  j["active_parameters"] = r.active_parameters;
  j["active_weight_bytes"] = r.active_weight_bytes;
  if (c.experts > 0)
    j["experts"] = {{"count", c.experts}, {"per_token", c.experts_per_token}, {"intermediate_size", c.expert_intermediate_size}};
  j["hidden_size"] = c.hidden_size;
  j["layers"] = c.num_hidden_layers;
  j["attention_heads"] = c.num_attention_heads;
  j["kv_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["intermediate_size"] = c.intermediate_size;
  j["vocab_size"] = c.vocab_size;
  j["context_length"] = c.context_length();
  j["tied_embeddings"] = c.tie_word_embeddings;
  j["dtype"] = r.float_dtype;
  j["quantization"] = c.quantization.global ? nlohmann::json(c.quantization.global->to_string()) : nlohmann::json(nullptr);
  j["shards"] = r.shards;
  j["disk_bytes"] = r.disk_bytes;
  j["weight_bytes"] = r.weight_bytes;
  j["bits_per_weight"] = r.bits_per_weight();
  j["kv_cache_bytes_per_1k_tokens"] = r.kv_bytes_per_1k_tokens;
  j["kv_cache_dtype"] = "f16";
  auto& classes = j["tensor_classes"] = nlohmann::json::object();
  for (const auto& [name, cls] : r.classes)
    classes[name] = {{"format", cls.format}, {"tensors", cls.tensors}, {"parameters", cls.parameters}, {"bytes", cls.bytes}};
  return j;
}

std::string model_report_to_text(const ModelReport& r) {
  const ModelConfig& c = r.config;
  std::string out;
  auto line = [&](std::string_view k, const std::string& v) { out += fmt::format("{:<22}{}\n", k, v); };
  line("model", r.dir.string());
  line("architecture", fmt::format("{} ({} layers, hidden {}, {} heads / {} KV heads, head_dim {}, ffn {})",
                                   c.model_type, c.num_hidden_layers, c.hidden_size, c.num_attention_heads,
                                   c.num_key_value_heads, c.head_dim, c.intermediate_size));
  line("parameters", fmt::format("{} ({:.2f} M)", r.parameters, double(r.parameters) / 1e6));
  if (c.experts > 0) {
    int64_t moe_layers = 0;
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) moe_layers += c.is_moe_layer(i);
    line("experts", fmt::format("{} per layer in {} of {} layers, {} per token, width {}", c.experts, moe_layers,
                                c.num_hidden_layers, c.experts_per_token, c.expert_intermediate_size));
    line("active per token", fmt::format("{:.2f} M parameters, {} of weights read", double(r.active_parameters) / 1e6,
                                         human_bytes(double(r.active_weight_bytes))));
  }
  line("vocabulary", std::to_string(c.vocab_size));
  line("context length", std::to_string(c.context_length()));
  line("embeddings", c.tie_word_embeddings ? "tied" : "separate lm_head");
  line("dtype", r.float_dtype.empty() ? "-" : r.float_dtype);
  line("quantization", c.quantization.global ? c.quantization.global->to_string() : "none");
  line("on disk", fmt::format("{} in {} file(s) ({} bytes)", human_bytes(double(r.disk_bytes)), r.shards, r.disk_bytes));
  line("weights in memory", fmt::format("{} ({} bytes, {:.2f} bits/parameter)", human_bytes(double(r.weight_bytes)),
                                        r.weight_bytes, r.bits_per_weight()));
  line("KV cache per 1k tok", fmt::format("{} (f16 K and V: 2 x {} layers x {} KV heads x {} dims x 2 bytes x 1024)",
                                          human_bytes(double(r.kv_bytes_per_1k_tokens)), c.num_hidden_layers,
                                          c.num_key_value_heads, c.head_dim));
  out += "tensor classes:\n";
  for (const auto& [name, cls] : r.classes)
    out += fmt::format("  {:<34}{:<34}{:>4} x  {:>12} params  {:>12}\n", name, cls.format, cls.tensors,
                       cls.parameters, human_bytes(double(cls.bytes)));
  return out;
}

}  // namespace mlxcpp
