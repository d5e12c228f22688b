#include "format/model_config.h"

#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

using nlohmann::json;

struct ArchInfo {
  Architecture arch;
  std::string_view model_type;
};
constexpr ArchInfo kArchs[] = {
    {Architecture::Llama, "llama"}, {Architecture::Mistral, "mistral"}, {Architecture::Phi3, "phi3"},
    {Architecture::Qwen2, "qwen2"}, {Architecture::Qwen3, "qwen3"},     {Architecture::Gemma, "gemma"},
    {Architecture::Gemma2, "gemma2"}, {Architecture::Gemma3, "gemma3_text"}, {Architecture::SmolLM3, "smollm3"},
    {Architecture::Olmo2, "olmo2"}, {Architecture::Qwen3Moe, "qwen3_moe"}, {Architecture::Mixtral, "mixtral"},
    {Architecture::GptOss, "gpt_oss"},
};

// Typed field access with errors that name the file and field.
class Fields {
 public:
  Fields(const json& j, std::string label) : j_(j), label_(std::move(label)) {}

  bool has(const char* key) const {
    const auto it = j_.find(key);
    return it != j_.end() && !it->is_null();
  }
  int64_t integer(const char* key) const {
    const json& v = need(key);
    if (!v.is_number_integer()) bad(key, "an integer", v);
    const int64_t x = v.get<int64_t>();
    if (x <= 0) fail("{}: field '{}' must be positive, got {}", label_, key, x);
    return x;
  }
  int64_t integer(const char* key, int64_t dflt) const { return has(key) ? integer(key) : dflt; }
  std::optional<int64_t> opt_integer(const char* key) const {
    return has(key) ? std::optional<int64_t>(integer(key)) : std::nullopt;
  }
  double number(const char* key) const {
    const json& v = need(key);
    if (!v.is_number()) bad(key, "a number", v);
    return v.get<double>();
  }
  double number(const char* key, double dflt) const { return has(key) ? number(key) : dflt; }
  bool boolean(const char* key, bool dflt) const {
    if (!has(key)) return dflt;
    const json& v = j_.at(key);
    if (!v.is_boolean()) bad(key, "a boolean", v);
    return v.get<bool>();
  }
  std::string string(const char* key, std::string dflt = {}) const {
    if (!has(key)) return dflt;
    const json& v = j_.at(key);
    if (!v.is_string()) bad(key, "a string", v);
    return v.get<std::string>();
  }
  const json& need(const char* key) const {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) fail("{}: required field '{}' is missing", label_, key);
    return *it;
  }
  [[noreturn]] void bad(const char* key, const char* what, const json& v) const {
    fail("{}: field '{}' must be {}, got {}", label_, key, what, v.dump());
  }

 private:
  const json& j_;
  std::string label_;
};

std::vector<int64_t> read_token_ids(const json& v, const std::string& where) {
  std::vector<int64_t> ids;
  if (v.is_null()) return ids;
  if (v.is_number_integer()) return {v.get<int64_t>()};
  if (!v.is_array()) fail("{}: expected an integer or a list of integers, got {}", where, v.dump());
  for (const auto& x : v) {
    if (!x.is_number_integer()) fail("{}: expected integers, got {}", where, x.dump());
    ids.push_back(x.get<int64_t>());
  }
  return ids;
}

RopeScaling parse_rope_scaling(const json& j, const std::string& where) {
  if (!j.is_object()) fail("{}: must be an object, got {}", where, j.dump());
  const Fields f(j, where);
  RopeScaling r;
  r.type = f.string("type", f.string("rope_type", "default"));
  r.factor = f.number("factor", 1.0);
  r.low_freq_factor = f.number("low_freq_factor", 1.0);
  r.high_freq_factor = f.number("high_freq_factor", 4.0);
  r.original_max_position_embeddings = f.opt_integer("original_max_position_embeddings");
  r.beta_fast = f.number("beta_fast", 32.0);
  r.beta_slow = f.number("beta_slow", 1.0);
  r.mscale = f.number("mscale", 1.0);
  r.mscale_all_dim = f.number("mscale_all_dim", 0.0);
  r.truncate = f.boolean("truncate", true);
  auto list = [&](const char* key) {
    std::vector<double> out;
    if (!f.has(key)) return out;
    const json& v = j.at(key);
    if (!v.is_array()) fail("{}: '{}' must be a list of numbers", where, key);
    for (const auto& x : v) {
      if (!x.is_number()) fail("{}: '{}' must be a list of numbers", where, key);
      out.push_back(x.get<double>());
    }
    return out;
  };
  r.long_factor = list("long_factor");
  r.short_factor = list("short_factor");
  static const std::vector<std::string> known = {"default", "linear", "dynamic", "llama3", "yarn", "longrope", "su"};
  if (std::find(known.begin(), known.end(), r.type) == known.end())
    fail("{}: unsupported rope type '{}' (supported: {})", where, r.type, fmt::join(known, ", "));
  if ((r.type == "longrope" || r.type == "su") && r.long_factor.empty())
    fail("{}: rope type '{}' needs 'long_factor'", where, r.type);
  return r;
}

}  // namespace

std::string_view architecture_name(Architecture a) {
  for (const auto& i : kArchs)
    if (i.arch == a) return i.model_type;
  return "?";
}

const std::vector<std::string>& supported_model_types() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> t;
    for (const auto& i : kArchs) t.emplace_back(i.model_type);
    t.emplace_back("gemma3");  // (its text model: gemma3_text)
    return t;
  }();
  return types;
}

int64_t ModelConfig::context_length() const { return max_position_embeddings.value_or(4096); }

int64_t ModelConfig::kv_bytes_per_token(int bytes_per_element) const {
  return 2 * num_hidden_layers * num_key_value_heads * head_dim * bytes_per_element;
}

namespace {

// An end-of-sequence id the model can never produce would let generation run to the limit.
void check_token_ids(const std::vector<int64_t>& ids, int64_t vocab, const std::string& where) {
  for (const int64_t id : ids)
    if (id < 0 || id >= vocab) fail("{}: token id {} is outside the vocabulary of {}", where, id, vocab);
}

// The mixture-of-experts fields, with transformers' defaults (mlx-lm requires every
// qwen3_moe key; the published configs carry them all).
void parse_experts(const Fields& f, const json& j, const std::string& label, ModelConfig& c) {
  const bool qwen = c.arch == Architecture::Qwen3Moe, gpt_oss = c.arch == Architecture::GptOss;
  // (transformers v5 saves Qwen3-MoE's count as num_local_experts too.)
  c.experts = qwen && f.has("num_experts") ? f.integer("num_experts")
                                           : f.integer("num_local_experts", qwen || gpt_oss ? 128 : 8);
  c.experts_per_token = f.integer("num_experts_per_tok", qwen ? 8 : gpt_oss ? 4 : 2);
  if (c.experts_per_token > c.experts)
    fail("{}: num_experts_per_tok {} is more than the {} experts", label, c.experts_per_token, c.experts);
  // Mixtral's and gpt-oss's experts have the width intermediate_size; Qwen3-MoE's their own.
  c.expert_intermediate_size = qwen ? f.integer("moe_intermediate_size", 768) : c.intermediate_size;
  // Mixtral and gpt-oss: the softmax over the chosen experts' logits, the same as the
  // softmax over all renormalised.
  c.normalize_top_k = qwen ? f.boolean("norm_topk_prob", false) : true;
  c.moe_layers.assign(size_t(c.num_hidden_layers), true);
  if (!qwen) return;
  // Layer i is a mixture unless listed in mlp_only_layers or off the decoder_sparse_step.
  const int64_t step = f.integer("decoder_sparse_step", 1);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) c.moe_layers[size_t(i)] = (i + 1) % step == 0;
  if (f.has("mlp_only_layers")) {
    const json& only = j.at("mlp_only_layers");
    if (!only.is_array()) fail("{}: 'mlp_only_layers' must be a list of layer indices", label);
    for (const auto& x : only) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= c.num_hidden_layers)
        fail("{}: 'mlp_only_layers' lists {}, not a layer of the {}", label, x.dump(), c.num_hidden_layers);
      c.moe_layers[size_t(x.get<int64_t>())] = false;
    }
  }
}

}  // namespace

ModelConfig parse_model_config(const json& j, const std::string& label) {
  if (!j.is_object()) fail("{}: config is not a JSON object", label);
  const Fields f(j, label);
  ModelConfig c;
  c.model_type = f.string("model_type");
  if (c.model_type.empty()) fail("{}: required field 'model_type' is missing", label);
  if (c.model_type == "gemma3") {
    // Gemma 3's multimodal checkpoints: the text model is text_config (written as a diff
    // against Gemma3TextConfig's defaults), the top-level vocab_size wins (mlx-lm's rule),
    // and the vision tower is not run.
    if (!j.contains("text_config") || !j.at("text_config").is_object())
      fail("{}: model_type gemma3 needs a 'text_config' object", label);
    json t = j.at("text_config");
    t["model_type"] = "gemma3_text";
    t["vocab_size"] = j.contains("vocab_size") ? j.at("vocab_size") : t.value("vocab_size", json(262208));
    const json defaults = {{"num_attention_heads", 8}, {"num_key_value_heads", 4}, {"rms_norm_eps", 1e-6},
                           {"hidden_size", 2304},      {"intermediate_size", 9216}, {"num_hidden_layers", 26}};
    for (const auto& [key, value] : defaults.items())
      if (!t.contains(key)) t[key] = value;
    for (const char* key : {"quantization", "quantization_config", "eos_token_id", "bos_token_id", "torch_dtype", "dtype"})
      if (j.contains(key) && !t.contains(key)) t[key] = j.at(key);
    ModelConfig inner = parse_model_config(t, label + ": text_config");
    inner.model_type = "gemma3";
    inner.multimodal = true;
    return inner;
  }
  bool found = false;
  for (const auto& i : kArchs)
    if (i.model_type == c.model_type) {
      c.arch = i.arch;
      found = true;
    }
  if (!found)
    fail("{}: model_type '{}' is not supported (supported: {})", label, c.model_type,
         fmt::join(supported_model_types(), ", "));

  c.hidden_size = f.integer("hidden_size");
  c.num_hidden_layers = f.integer("num_hidden_layers");
  c.intermediate_size = f.integer("intermediate_size");
  c.num_attention_heads = f.integer("num_attention_heads");
  c.vocab_size = f.integer("vocab_size");
  c.rms_norm_eps = f.number("rms_norm_eps");
  const bool kv_required = c.arch == Architecture::Qwen2 || c.arch == Architecture::Qwen3 || c.arch == Architecture::Qwen3Moe ||
                           c.arch == Architecture::Gemma || c.arch == Architecture::Gemma2 || c.arch == Architecture::Gemma3;
  c.num_key_value_heads = kv_required ? f.integer("num_key_value_heads")
                                      : f.integer("num_key_value_heads", c.num_attention_heads);
  const bool head_dim_required = c.arch == Architecture::Qwen3 || c.arch == Architecture::Qwen3Moe || c.arch == Architecture::Gemma ||
                                 c.arch == Architecture::Gemma2;
  // qwen2 and phi3 ignore a head_dim key: it is always hidden / heads there.
  const bool head_dim_ignored = c.arch == Architecture::Qwen2 || c.arch == Architecture::Phi3;
  if (c.arch == Architecture::Gemma3) c.head_dim = f.integer("head_dim", 256);  // transformers' default
  else if (c.arch == Architecture::GptOss) c.head_dim = f.integer("head_dim", 64);
  else if (head_dim_required) c.head_dim = f.integer("head_dim");
  else if (head_dim_ignored) c.head_dim = c.hidden_size / c.num_attention_heads;
  else c.head_dim = f.integer("head_dim", c.hidden_size / c.num_attention_heads);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    fail("{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", label, c.num_attention_heads,
         c.num_key_value_heads);

  // RoPE: the classic top-level keys, else the transformers-v5 rope_parameters block (per
  // layer type for Gemma 3: full_attention for the global layers, sliding_attention for the
  // others).
  const json* rope_params = nullptr;
  const json* local_rope_params = nullptr;
  if (f.has("rope_parameters")) {
    rope_params = &j.at("rope_parameters");
    if (!rope_params->is_object()) fail("{}: 'rope_parameters' must be an object", label);
    if (rope_params->contains("full_attention") || rope_params->contains("sliding_attention")) {
      if (rope_params->contains("sliding_attention")) local_rope_params = &rope_params->at("sliding_attention");
      rope_params = rope_params->contains("full_attention") ? &rope_params->at("full_attention") : nullptr;
      for (const json* block : {rope_params, local_rope_params})
        if (block && !block->is_object()) fail("{}: 'rope_parameters' per layer type must be objects", label);
    }
  }
  // (SmolLM3: transformers' default; mlx-lm's is 10000, but the configs carry theirs.)
  const double default_theta = c.arch == Architecture::Qwen2 || c.arch == Architecture::Gemma3 || c.arch == Architecture::Mixtral ? 1e6
                               : c.arch == Architecture::SmolLM3                              ? 2e6
                               : c.arch == Architecture::GptOss                               ? 150000.0
                                                                                              : 10000.0;
  if (f.has("rope_theta")) c.rope_theta = f.number("rope_theta");
  else if (rope_params && rope_params->contains("rope_theta"))
    c.rope_theta = Fields(*rope_params, label + ": rope_parameters").number("rope_theta");
  else if (c.arch == Architecture::Qwen3 || c.arch == Architecture::Qwen3Moe)
    c.rope_theta = f.number("rope_theta");  // required: throws
  else c.rope_theta = default_theta;
  // A base that cannot be right (zero or negative) would rotate by NaN or not at all.
  if (!(c.rope_theta > 0)) fail("{}: field 'rope_theta' must be positive, got {}", label, c.rope_theta);
  c.rope_traditional = f.boolean("rope_traditional", false);
  if (f.has("rope_scaling")) {
    c.rope_scaling = parse_rope_scaling(j.at("rope_scaling"), label + ": rope_scaling");
  } else if (rope_params) {
    const RopeScaling r = parse_rope_scaling(*rope_params, label + ": rope_parameters");
    if (r.type != "default") c.rope_scaling = r;
  }
  if (c.rope_scaling && (c.rope_scaling->type == "default")) c.rope_scaling.reset();
  c.partial_rotary_factor = f.number("partial_rotary_factor", 1.0);

  switch (c.arch) {
    case Architecture::Phi3:
      c.max_position_embeddings = f.integer("max_position_embeddings", 131072);
      // Top level in the classic schema; inside rope_parameters in transformers v5.
      c.original_max_position_embeddings = f.integer(
          "original_max_position_embeddings",
          c.rope_scaling && c.rope_scaling->original_max_position_embeddings ? *c.rope_scaling->original_max_position_embeddings : 4096);
      break;
    case Architecture::Qwen2:
      c.max_position_embeddings = f.integer("max_position_embeddings", 32768);
      break;
    case Architecture::Qwen3:
    case Architecture::Qwen3Moe:
      c.max_position_embeddings = f.integer("max_position_embeddings");
      break;
    default:
      c.max_position_embeddings = f.opt_integer("max_position_embeddings");
  }

  switch (c.arch) {
    case Architecture::Phi3: c.tie_word_embeddings = f.boolean("tie_word_embeddings", false); break;
    case Architecture::Qwen3:
    case Architecture::Qwen3Moe:
      if (!f.has("tie_word_embeddings")) fail("{}: required field 'tie_word_embeddings' is missing", label);
      c.tie_word_embeddings = f.boolean("tie_word_embeddings", true);
      break;
    case Architecture::Gemma:
    case Architecture::Gemma2:
    case Architecture::Gemma3: c.tie_word_embeddings = true; break;
    // transformers' default (mlx-lm's is true: docs/deviations.md).
    case Architecture::Olmo2:
    case Architecture::Mixtral: c.tie_word_embeddings = f.boolean("tie_word_embeddings", false); break;
    case Architecture::GptOss: c.tie_word_embeddings = false; break;  // lm_head always exists
    default: c.tie_word_embeddings = f.boolean("tie_word_embeddings", true);
  }
  c.attention_bias = c.arch == Architecture::Qwen2 || c.arch == Architecture::GptOss || f.boolean("attention_bias", false);
  c.mlp_bias = f.boolean("mlp_bias", false);
  c.sliding_window = f.opt_integer("sliding_window");
  if (f.has("layer_types")) {
    const json& lt = j.at("layer_types");
    if (!lt.is_array()) fail("{}: 'layer_types' must be a list of strings", label);
    for (const auto& x : lt) {
      if (!x.is_string()) fail("{}: 'layer_types' must be a list of strings", label);
      c.layer_types.push_back(x.get<std::string>());
    }
    if (int64_t(c.layer_types.size()) != c.num_hidden_layers)
      fail("{}: 'layer_types' has {} entries for {} layers", label, c.layer_types.size(), c.num_hidden_layers);
  }
  if (c.arch == Architecture::SmolLM3) {
    // no_rope_layers[i]: 1 = RoPE, 0 = none; by default every no_rope_layer_interval-th
    // layer (the 4th, 8th, ...) has none.
    if (f.has("no_rope_layers")) {
      const json& nr = j.at("no_rope_layers");
      if (!nr.is_array() || int64_t(nr.size()) != c.num_hidden_layers)
        fail("{}: 'no_rope_layers' must list 0 or 1 for each of the {} layers", label, c.num_hidden_layers);
      for (const auto& x : nr) {
        if (!x.is_number_integer() || (x.get<int64_t>() != 0 && x.get<int64_t>() != 1))
          fail("{}: 'no_rope_layers' must list 0 or 1 for each of the {} layers", label, c.num_hidden_layers);
        c.rope_layers.push_back(x.get<int64_t>() == 1);
      }
    } else {
      const int64_t interval = f.integer("no_rope_layer_interval", 4);
      if (interval < 1) fail("{}: 'no_rope_layer_interval' must be at least 1", label);
      for (int64_t i = 0; i < c.num_hidden_layers; ++i) c.rope_layers.push_back((i + 1) % interval != 0);
    }
  }
  if (c.arch == Architecture::Qwen3Moe || c.arch == Architecture::Mixtral || c.arch == Architecture::GptOss)
    parse_experts(f, j, label, c);
  if (c.arch == Architecture::GptOss) {
    // Sliding and full layers alternate (even layers slide) unless layer_types says otherwise.
    if (!c.sliding_window) c.sliding_window = 128;
    if (c.layer_types.empty())
      for (int64_t i = 0; i < c.num_hidden_layers; ++i)
        c.layer_types.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
    c.swiglu_limit = f.number("swiglu_limit", 7.0);
    if (!(c.swiglu_limit > 0)) fail("{}: field 'swiglu_limit' must be positive, got {}", label, c.swiglu_limit);
  }
  if (c.arch == Architecture::Gemma3) {
    c.query_pre_attn_scalar = f.number("query_pre_attn_scalar", 256.0);
    c.local_rope_theta = local_rope_params && local_rope_params->contains("rope_theta")
                             ? Fields(*local_rope_params, label + ": rope_parameters.sliding_attention").number("rope_theta")
                             : f.number("rope_local_base_freq", 10000.0);
    if (!(*c.local_rope_theta > 0)) fail("{}: the sliding layers' rope_theta must be positive", label);
    if (!c.sliding_window) c.sliding_window = 4096;  // transformers' default
    // Without layer_types: every sliding_window_pattern-th layer is global (transformers'
    // and mlx-lm's rule).
    if (c.layer_types.empty()) {
      const int64_t pattern = f.integer("sliding_window_pattern", 6);
      if (pattern < 1) fail("{}: 'sliding_window_pattern' must be at least 1", label);
      for (int64_t i = 0; i < c.num_hidden_layers; ++i)
        c.layer_types.push_back(i % pattern == pattern - 1 ? "full_attention" : "sliding_attention");
    }
  }
  if (c.arch == Architecture::Gemma2) {
    c.attn_logit_softcapping = f.number("attn_logit_softcapping", 50.0);
    c.final_logit_softcapping = f.number("final_logit_softcapping", 30.0);
    c.query_pre_attn_scalar = f.number("query_pre_attn_scalar", 144.0);
  }
  c.dtype = f.string("torch_dtype", f.string("dtype"));
  c.bos_token_id = f.has("bos_token_id") && j.at("bos_token_id").is_number_integer()
                       ? std::optional<int64_t>(j.at("bos_token_id").get<int64_t>())
                       : std::nullopt;
  if (f.has("eos_token_id")) c.eos_token_ids = read_token_ids(j.at("eos_token_id"), label + ": eos_token_id");
  check_token_ids(c.eos_token_ids, c.vocab_size, label + ": eos_token_id");
  c.quantization = parse_quantization_config(j, label);
  return c;
}

ModelConfig load_model_config(const std::filesystem::path& dir) {
  const auto path = dir / "config.json";
  if (!std::filesystem::exists(path)) fail("{}: no config.json in the model directory", dir.string());
  ModelConfig c = parse_model_config(read_json_file(path), path.string());
  const auto gen = dir / "generation_config.json";
  if (std::filesystem::exists(gen)) {
    const json g = read_json_file(gen);
    // mlx-lm: a truthy generation_config eos_token_id overrides config.json's.
    if (g.is_object() && g.contains("eos_token_id")) {
      auto ids = read_token_ids(g.at("eos_token_id"), gen.string() + ": eos_token_id");
      check_token_ids(ids, c.vocab_size, gen.string() + ": eos_token_id");
      if (!ids.empty()) c.eos_token_ids = std::move(ids);
    }
  }
  return c;
}

}  // namespace mlxcpp
