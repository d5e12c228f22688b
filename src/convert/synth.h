// `mlxcpp synth`: a random-weight model with the shapes of a real one, for tests and
// benchmarks (a real tokenizer is included so every command can run on it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "format/dtype.h"
#include "quant/quant_spec.h"

namespace mlxcpp {

struct SynthOptions {
  std::string like;  // a preset name or a path to a config.json
  std::optional<QuantSpec> quant;
  DType dtype = DType::BF16;
  uint64_t seed = 0;
  int threads = 0;
  std::optional<int64_t> layers;  // override num_hidden_layers (smaller test models)
  std::optional<std::filesystem::path> tokenizer_dir;  // default: the preset's tokenizer
};

struct SynthResult {
  uint64_t bytes = 0;
  int64_t parameters = 0;
  std::string tokenizer;  // what was copied, or empty
};

SynthResult synth_model(const SynthOptions& options, const std::filesystem::path& dst);

// Where bundled data (tokenizers) live: $MLXCPP_DATA_DIR, else <source>/data.
std::filesystem::path data_dir();

}  // namespace mlxcpp
