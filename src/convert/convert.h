// `mlxcpp convert`: a Hugging Face safetensors checkpoint → an MLX-format directory.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "format/dtype.h"
#include "quant/quant_spec.h"

namespace mlxcpp {

struct ConvertOptions {
  std::optional<DType> dtype;  // default: the config's torch_dtype / dtype, else as stored
  std::optional<QuantSpec> quant;
  int threads = 0;  // 0: hardware concurrency
  std::function<void(size_t done, size_t total)> on_tensor;  // progress, as each tensor is written
};

struct ConvertResult {
  std::filesystem::path dst;
  int tensors_in = 0;
  int quantized = 0;
  int shards = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  DType dtype = DType::BF16;
};

ConvertResult convert_model(const std::filesystem::path& src, const std::filesystem::path& dst,
                            const ConvertOptions& options);

// Parses "bf16"/"bfloat16", "f16"/"float16", "f32"/"float32".
std::optional<DType> parse_float_dtype(std::string_view name);

// Tokenizer, chat-template and generation files copied next to the weights.
void copy_model_side_files(const std::filesystem::path& src, const std::filesystem::path& dst);

}  // namespace mlxcpp
