#include "convert/convert.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "convert/mlx_writer.h"
#include "format/model_config.h"
#include "format/weight_set.h"
#include "model/architecture.h"
#include "model/weight_layout.h"
#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {
namespace fs = std::filesystem;

std::optional<DType> parse_float_dtype(std::string_view n) {
  if (n == "bf16" || n == "bfloat16") return DType::BF16;
  if (n == "f16" || n == "float16" || n == "fp16") return DType::F16;
  if (n == "f32" || n == "float32" || n == "fp32") return DType::F32;
  return std::nullopt;
}

void copy_model_side_files(const fs::path& src, const fs::path& dst) {
  static const char* kFiles[] = {"tokenizer.json",        "tokenizer_config.json", "special_tokens_map.json",
                                 "tokenizer.model",       "added_tokens.json",     "vocab.json",
                                 "merges.txt",            "chat_template.jinja",   "chat_template.json",
                                 "generation_config.json"};
  for (const char* name : kFiles)
    if (fs::is_regular_file(src / name)) fs::copy_file(src / name, dst / name);
}

namespace {

FloatSource float_source(const std::string& name, const TensorView& t) {
  const size_t cols = t.shape().empty() ? 1 : size_t(t.shape().back());
  return {name, t.shape(), [t, cols](size_t row, size_t count, float* out) {
            convert_to_f32(t.dtype(), t.data + row * cols * dtype_size(t.dtype()), out, count * cols);
          }};
}

// mlx-lm's sanitize for mixtures of experts: Hugging Face's one tensor per expert,
// <moe>.experts.E.<gate|up|down>.weight, becomes MLX's stacked
// <moe>.switch_mlp.{gate,up,down}_proj.weight [experts, rows, cols]. Returns the names
// consumed; a checkpoint already stacked is left as it is.
std::vector<std::string> stack_experts(const ModelConfig& cfg, const WeightSet& weights, std::vector<FloatSource>& out) {
  std::vector<std::string> consumed;
  const ArchTraits traits = traits_for(cfg);
  const char* stacked_names[] = {"gate_proj", "up_proj", "down_proj"};
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    if (!cfg.is_moe_layer(i)) continue;
    const std::string moe = fmt::format("model.layers.{}.{}.", i, traits.moe_module);
    for (size_t which = 0; which < 3; ++which) {
      std::vector<TensorView> experts;
      for (int64_t e = 0; e < cfg.experts; ++e) {
        const std::string name = fmt::format("{}experts.{}.{}.weight", moe, e, traits.expert_projections[which]);
        if (!weights.contains(name)) break;
        experts.push_back(weights.get(name));
        consumed.push_back(name);
      }
      if (experts.empty()) continue;
      if (int64_t(experts.size()) != cfg.experts)
        fail("{}: {} of the {} experts of '{}' are in the checkpoint", weights.dir().string(), experts.size(),
             cfg.experts, moe + "experts");
      for (const TensorView& t : experts)
        if (t.shape().size() != 2 || t.shape() != experts[0].shape() || !dtype_is_float(t.dtype()))
          fail("{}: tensor '{}' is not a float matrix of the shape of expert 0's", weights.dir().string(), t.name());
      const size_t rows = size_t(experts[0].shape()[0]), cols = size_t(experts[0].shape()[1]);
      out.push_back({moe + "switch_mlp." + stacked_names[which] + ".weight",
                     {cfg.experts, int64_t(rows), int64_t(cols)},
                     [experts, rows, cols](size_t row, size_t count, float* dst) {
                       for (size_t r = row; r < row + count; ++r, dst += cols) {
                         const TensorView& t = experts[r / rows];
                         convert_to_f32(t.dtype(), t.data + (r % rows) * cols * dtype_size(t.dtype()), dst, cols);
                       }
                     }});
    }
  }
  return consumed;
}

}  // namespace

ConvertResult convert_model(const fs::path& src, const fs::path& dst, const ConvertOptions& options) {
  const ModelConfig cfg = load_model_config(src);
  nlohmann::json config = read_json_file(src / "config.json");
  if (cfg.quantization.global)
    fail("{}: already quantized ({}); convert takes a float checkpoint", src.string(), cfg.quantization.global->to_string());
  const WeightSet weights = WeightSet::open(src);

  ConvertResult result;
  result.dst = dst;
  // mlx-lm casts to --dtype, else torch_dtype; we also honour the transformers-v5 `dtype`
  // spelling (mlx-lm ignores it and keeps the stored type, which for these configs is the same).
  std::optional<DType> dtype = options.dtype;
  if (!dtype && !cfg.dtype.empty()) dtype = parse_float_dtype(cfg.dtype);
  std::vector<FloatSource> sources;
  std::vector<std::string> stacked = stack_experts(cfg, weights, sources);
  std::sort(stacked.begin(), stacked.end());
  for (const auto& name : weights.names()) {
    if (std::binary_search(stacked.begin(), stacked.end(), name)) {
      result.bytes_read += weights.get(name).nbytes();
      continue;
    }
    // mlx-lm's sanitize: rotary inverse frequencies are recomputed, a tied lm_head is dropped.
    if (name.ends_with("rotary_emb.inv_freq")) continue;
    if (cfg.tie_word_embeddings && name == "lm_head.weight") continue;
    const TensorView t = weights.get(name);
    if (!dtype_is_float(t.dtype()))
      fail("{}: tensor '{}' has dtype {}; convert handles float tensors only", src.string(), name, dtype_name(t.dtype()));
    if (!dtype) dtype = t.dtype() == DType::F64 ? DType::F32 : t.dtype();
    result.bytes_read += t.nbytes();
    sources.push_back(float_source(name, t));
  }
  result.tensors_in = int(sources.size());
  if (*dtype != DType::F32 && *dtype != DType::F16 && *dtype != DType::BF16)
    fail("convert: cannot store weights as {}", dtype_name(*dtype));
  result.dtype = *dtype;

  // mlx-lm writes the generation_config EOS into config.json (its loader applied it).
  if (!cfg.eos_token_ids.empty())
    config["eos_token_id"] = cfg.eos_token_ids.size() == 1 ? nlohmann::json(cfg.eos_token_ids[0])
                                                           : nlohmann::json(cfg.eos_token_ids);
  // Record the dtype actually stored under whichever spelling the config uses.
  const char* dtype_str = *dtype == DType::F32 ? "float32" : *dtype == DType::F16 ? "float16" : "bfloat16";
  for (const char* key : {"torch_dtype", "dtype"})
    if (config.contains(key)) config[key] = dtype_str;
  MlxWriteOptions wo;
  wo.dtype = *dtype;
  wo.quant = options.quant;
  wo.quant_overrides = quantization_overrides(cfg);
  wo.threads = options.threads > 0 ? options.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  wo.on_tensor = options.on_tensor;
  build_directory_atomically(dst, [&](const fs::path& tmp) {
    const MlxWriteResult w = write_mlx_model(sources, config, wo, tmp);
    result.quantized = w.quantized_tensors;
    result.shards = w.shards;
    result.bytes_written = w.total_bytes;
    copy_model_side_files(src, tmp);
  });
  return result;
}

}  // namespace mlxcpp
