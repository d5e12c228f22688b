#include "convert/convert.h"

#include <thread>

#include "convert/mlx_writer.h"
#include "format/model_config.h"
#include "format/weight_set.h"
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
  for (const auto& name : weights.names()) {
    // mlx-lm's sanitize: rotary inverse frequencies are recomputed, a tied lm_head is dropped.
    if (name.ends_with("rotary_emb.inv_freq")) continue;
    if (cfg.tie_word_embeddings && name == "lm_head.weight") continue;
    const TensorView t = weights.get(name);
    if (!dtype_is_float(t.dtype()))
      fail("{}: tensor '{}' has dtype {}; convert handles float tensors only", src.string(), name, dtype_name(t.dtype()));
    if (!dtype) dtype = t.dtype() == DType::F64 ? DType::F32 : t.dtype();
    result.bytes_read += t.nbytes();
    const size_t cols = t.shape().empty() ? 1 : size_t(t.shape().back());
    sources.push_back({name, t.shape(), [t, cols](size_t row, size_t count, float* out) {
                         const size_t esz = dtype_size(t.dtype());
                         convert_to_f32(t.dtype(), t.data + row * cols * esz, out, count * cols);
                       }});
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
