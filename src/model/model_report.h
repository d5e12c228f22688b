// What `mlxcpp inspect` reports about a model directory: architecture, parameter
// count, quantization per tensor class, bytes on disk and in memory, KV-cache cost.
// Building the report also cross-checks every quantized tensor's shapes against the
// config (MLX's in_features = groups * group_size = packed_cols * 32 / bits).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "format/model_config.h"

namespace mlxcpp {

struct TensorClassInfo {
  std::string format;  // "affine 4-bit g64 (scales BF16)" or "BF16"
  int64_t tensors = 0;
  int64_t parameters = 0;
  uint64_t bytes = 0;
};

struct ModelReport {
  std::filesystem::path dir;
  ModelConfig config;
  int64_t parameters = 0;
  // What one token's forward pass reads: every weight, but only its share of a mixture's
  // experts (experts_per_token / experts of them) — what bounds decode speed.
  int64_t active_parameters = 0;
  uint64_t active_weight_bytes = 0;
  uint64_t weight_bytes = 0;  // tensor bytes, i.e. memory for the weights when mapped
  uint64_t disk_bytes = 0;    // shard files on disk (headers included)
  int shards = 0;
  std::string float_dtype;    // dtype of the unquantized float tensors ("BF16", ...)
  std::map<std::string, TensorClassInfo> classes;  // "self_attn.q_proj", "embed_tokens", ...
  int64_t kv_bytes_per_1k_tokens = 0;              // at 16-bit K/V

  double bits_per_weight() const { return parameters ? 8.0 * double(weight_bytes) / double(parameters) : 0; }
};

ModelReport build_model_report(const std::filesystem::path& dir);
nlohmann::json model_report_to_json(const ModelReport& r);
std::string model_report_to_text(const ModelReport& r);

}  // namespace mlxcpp
