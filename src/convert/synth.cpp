#include "convert/synth.h"

#include <cmath>
#include <cstdlib>
#include <thread>

#include "convert/convert.h"
#include "convert/mlx_writer.h"
#include "convert/presets.h"
#include "format/model_config.h"
#include "model/weight_layout.h"
#include "util/install_paths.h"
#include "util/error.h"
#include "util/files.h"
#include "util/gzip_file.h"

namespace mlxcpp {
namespace fs = std::filesystem;

namespace {

// Counter-based generator: every element's value depends only on (seed, tensor, index),
// so rows can be produced in any order on any thread and the output is reproducible.
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash_name(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

void copy_tokenizer(const fs::path& dir, const fs::path& dst) {
  if (!fs::is_directory(dir)) fail("{}: tokenizer directory does not exist", dir.string());
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name == "tokenizer.json.gz") write_file_atomic(dst / "tokenizer.json", read_file_maybe_gzipped(e.path()));
    else if (name.starts_with("tokenizer") || name == "special_tokens_map.json" || name == "chat_template.jinja")
      fs::copy_file(e.path(), dst / name);
  }
}

}  // namespace

fs::path data_dir() {
  if (const char* d = std::getenv("MLXCPP_DATA_DIR")) return d;
  if (const fs::path installed = installed_data_dir(); !installed.empty() && fs::is_directory(installed / "tokenizers"))
    return installed;
  return fs::path(MLXCPP_SOURCE_DIR) / "data";
}

SynthResult synth_model(const SynthOptions& o, const fs::path& dst) {
  nlohmann::json config;
  std::optional<fs::path> tokenizer = o.tokenizer_dir;
  if (const SynthPreset* p = find_synth_preset(o.like)) {
    config = p->config;
    if (!tokenizer) tokenizer = data_dir() / "tokenizers" / p->tokenizer;
  } else if (fs::is_regular_file(o.like)) {
    config = read_json_file(o.like);
  } else {
    std::string names;
    for (const auto& q : synth_presets()) names += (names.empty() ? "" : ", ") + q.name;
    fail("synth --like '{}': neither a preset ({}) nor a config.json file", o.like, names);
  }
  if (o.layers) {
    config["num_hidden_layers"] = *o.layers;
    // Per-layer lists keep their first layers; layer indices past the end go.
    for (const char* key : {"layer_types", "no_rope_layers"})
      if (config.contains(key) && config[key].is_array() && int64_t(config[key].size()) > *o.layers)
        config[key].erase(config[key].begin() + *o.layers, config[key].end());
    if (config.contains("mlp_only_layers") && config["mlp_only_layers"].is_array()) {
      nlohmann::json kept = nlohmann::json::array();
      for (const auto& i : config["mlp_only_layers"])
        if (i.is_number_integer() && i.get<int64_t>() < *o.layers) kept.push_back(i);
      config["mlp_only_layers"] = kept;
    }
  }
  config.erase("quantization");
  config.erase("quantization_config");
  const ModelConfig cfg = parse_model_config(config, o.like);
  const bool gemma = cfg.arch == Architecture::Gemma || cfg.arch == Architecture::Gemma2 || cfg.arch == Architecture::Gemma3;

  std::vector<FloatSource> sources;
  for (const WeightDecl& w : weight_layout(cfg)) {
    const uint64_t key = splitmix64(o.seed ^ hash_name(w.name));
    const size_t cols = size_t(w.shape.back());
    // Uniform with the standard deviation of the usual 0.02 normal init; norms are 1
    // (gemma stores norm weights as w with scale 1 + w, so 0 there).
    const float amp = w.role == TensorRole::Norm ? 0.0f : 0.02f * std::sqrt(3.0f);
    const float base = (w.role == TensorRole::Norm && !gemma) ? 1.0f : 0.0f;
    sources.push_back({w.name, w.shape, [key, cols, amp, base](size_t row, size_t count, float* out) {
                         const uint64_t first = uint64_t(row) * cols;
                         for (size_t i = 0; i < count * cols; ++i) {
                           const uint64_t r = splitmix64(key + first + i);
                           const float u = float(r >> 40) * 0x1p-24f;  // [0, 1)
                           out[i] = base + amp * (2.0f * u - 1.0f);
                         }
                       }});
  }
  MlxWriteOptions wo;
  wo.dtype = o.dtype;
  wo.quant = o.quant;
  wo.quant_overrides = quantization_overrides(cfg);
  wo.threads = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  config["torch_dtype"] = o.dtype == DType::F32 ? "float32" : o.dtype == DType::F16 ? "float16" : "bfloat16";
  SynthResult result;
  build_directory_atomically(dst, [&](const fs::path& tmp) {
    const MlxWriteResult w = write_mlx_model(sources, config, wo, tmp);
    result.bytes = w.total_bytes;
    result.parameters = w.total_parameters;
    if (tokenizer) {
      copy_tokenizer(*tokenizer, tmp);
      result.tokenizer = tokenizer->string();
    }
  });
  return result;
}

}  // namespace mlxcpp
