#include "convert/convert.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "convert/mlx_writer.h"
#include "format/model_config.h"
#include "format/weight_set.h"
#include "model/architecture.h"
#include "model/expert_layout.h"
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

// The experts of one projection as MLX stacks them, [experts, rows, cols], row by row.
FloatSource stacked_experts(std::string name, std::vector<StridedMatrix> experts) {
  const int64_t rows = experts[0].rows, cols = experts[0].cols, count = int64_t(experts.size());
  return {std::move(name), {count, rows, cols}, [experts = std::move(experts), rows](size_t row, size_t n, float* dst) {
            for (size_t r = row; r < row + n; ++r, dst += experts[0].cols)
              experts[r / size_t(rows)].read_row(int64_t(r % size_t(rows)), dst);
          }};
}

FloatSource stacked_biases(std::string name, std::vector<StridedVector> biases) {
  const int64_t size = biases[0].size, count = int64_t(biases.size());
  return {std::move(name), {count, size}, [biases = std::move(biases)](size_t row, size_t n, float* dst) {
            for (size_t r = row; r < row + n; ++r, dst += biases[0].size) {
              const std::vector<float> v = biases[r].read();
              std::copy(v.begin(), v.end(), dst);
            }
          }};
}

// mlx-lm's sanitize for mixtures of experts: Hugging Face's one tensor per expert,
// <moe>.experts.E.<gate|up|down>.weight, or transformers' fused tensors
// (model/expert_layout.h), become MLX's stacked <moe>.<stack>.{gate,up,down}_proj.weight
// [experts, rows, cols] (and .bias [experts, rows]). Returns the names consumed; a
// checkpoint already stacked is left as it is.
std::vector<std::string> stack_experts(const ModelConfig& cfg, const WeightSet& weights, std::vector<FloatSource>& out) {
  std::vector<std::string> consumed;
  const ArchTraits traits = traits_for(cfg);
  const char* stacked_names[] = {"gate_proj", "up_proj", "down_proj"};
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    if (!cfg.is_moe_layer(i)) continue;
    const std::string moe = fmt::format("model.layers.{}.{}.", i, traits.moe_module);
    const std::string stack = moe + traits.expert_stack + ".";
    if (auto fused = find_fused_experts(weights, moe, cfg.experts, cfg.hidden_size, cfg.expert_intermediate_size,
                                        traits.interleaved_gate_up)) {
      const ExpertProjection* projections[] = {&fused->gate, &fused->up, &fused->down};
      for (size_t which = 0; which < 3; ++which) {
        out.push_back(stacked_experts(stack + stacked_names[which] + ".weight", projections[which]->weights));
        if (!projections[which]->biases.empty())
          out.push_back(stacked_biases(stack + stacked_names[which] + ".bias", projections[which]->biases));
      }
      consumed.insert(consumed.end(), fused->tensors.begin(), fused->tensors.end());
      continue;
    }
    for (size_t which = 0; which < 3; ++which) {
      std::vector<StridedMatrix> experts;
      for (int64_t e = 0; e < cfg.experts; ++e) {
        const std::string name = fmt::format("{}experts.{}.{}.weight", moe, e, traits.expert_projections[which]);
        if (!weights.contains(name)) break;
        const TensorView t = weights.get(name);
        if (t.shape().size() != 2 || !dtype_is_float(t.dtype()) ||
            (!experts.empty() && t.shape() != experts[0].tensor.shape()))
          fail("{}: tensor '{}' is not a float matrix of the shape of expert 0's", weights.dir().string(), name);
        experts.push_back({t, t.shape()[0], t.shape()[1], 0, t.shape()[1], 1});
        consumed.push_back(name);
      }
      if (experts.empty()) continue;
      if (int64_t(experts.size()) != cfg.experts)
        fail("{}: {} of the {} experts of '{}' are in the checkpoint", weights.dir().string(), experts.size(),
             cfg.experts, moe + "experts");
      out.push_back(stacked_experts(stack + stacked_names[which] + ".weight", std::move(experts)));
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
