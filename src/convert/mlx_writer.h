// Writes an MLX-format model directory the way mlx_lm.convert lays it out: tensors cast
// to one dtype, every quantizable weight quantized with MLX's algorithm, shards of at
// most 5 GiB, model.safetensors.index.json always, config.json with `quantization` and
// `quantization_config`, keys sorted, indent 4. Shared by `convert` and `synth`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "format/dtype.h"
#include "quant/quant_spec.h"

namespace mlxcpp {

struct FloatSource {
  std::string name;
  std::vector<int64_t> shape;
  // Produces rows [row, row + count) of the tensor seen as [rows, cols], cols = last dim
  // (a 1-D tensor is one row). Must be callable concurrently for different rows.
  std::function<void(size_t row, size_t count, float* out)> read_rows;
};

struct MlxWriteOptions {
  DType dtype = DType::BF16;  // F32, F16 or BF16
  std::optional<QuantSpec> quant;
  // Modules quantized otherwise than `quant` (mlx-lm's per-model quant_predicate; written
  // into config.json's `quantization` under the module's path). Only when `quant` is set.
  std::map<std::string, QuantSpec> quant_overrides;
  int threads = 1;
  uint64_t max_shard_bytes = uint64_t(5) << 30;  // mlx-lm's MAX_FILE_SIZE_GB
  // Called (from writer threads, one call at a time) as each tensor is written.
  std::function<void(size_t done, size_t total)> on_tensor;
};

// mlx-lm quantizes Linear and Embedding weights whose input dimension divides by the
// group size; in these architectures that is every ".weight" of rank >= 2.
bool is_quantizable(const FloatSource& t, const QuantSpec& spec);

struct MlxWriteResult {
  uint64_t total_bytes = 0;
  int64_t total_parameters = 0;
  int shards = 0;
  int quantized_tensors = 0;
};

// Writes the safetensors shards, the index and config.json into `dir` (which must exist).
MlxWriteResult write_mlx_model(const std::vector<FloatSource>& tensors, nlohmann::json config,
                               const MlxWriteOptions& options, const std::filesystem::path& dir);

// Creates `dst` atomically: `build` fills a temporary sibling directory, which is renamed
// to `dst` only if build returns normally. Refuses when `dst` already exists.
void build_directory_atomically(const std::filesystem::path& dst,
                                const std::function<void(const std::filesystem::path& tmp)>& build);

}  // namespace mlxcpp
