// The engine options every model-running command shares (--threads, --precision,
// --device, the KV cache), declared once, and the one place that loads a model with them.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "backend/device_info.h"
#include "format/model_config.h"
#include "runtime/engine.h"
#include "runtime/tuning.h"
#include "cli/validators.h"

namespace mlxcpp::cli {

struct EngineFlags {
  int threads = 0;
  std::string precision = "fast";
  std::string device = "auto";
  int kv_bits = 0, kv_group_size = 64;
  int64_t quantized_kv_start = 5000;
  int64_t kv_pool_tokens = 0;
  bool fast_batches = false;
  CLI::Option* kv_group_option = nullptr;

  void add_to(CLI::App* cmd) {
    cmd->add_option("--threads", threads, "CPU worker threads (default: all cores)")->check(at_least(0));
    cmd->add_option("--precision", precision, "f32 (exact reference path) or fast")
        ->check(CLI::IsMember({"f32", "fast"}))
        ->capture_default_str();
    cmd->add_option("--device", device, "auto (CUDA when a GPU can run the model), cpu or cuda")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
        ->capture_default_str();
    // mlx-lm's names and defaults (generate.py): off unless --kv-bits is given.
    cmd->add_option("--kv-bits", kv_bits, "quantize the KV cache to 2/3/4/5/6/8 bits (CPU; default: off)")
        ->check(CLI::IsMember({2, 3, 4, 5, 6, 8}));
    kv_group_option = cmd->add_option("--kv-group-size", kv_group_size,
                                      "group size of the KV cache quantization (default: 64, or 32 where 64 does "
                                      "not divide the model's head dimension)");
    cmd->add_option("--quantized-kv-start", quantized_kv_start, "positions kept unquantized before the KV cache is quantized")
        ->capture_default_str();
    cmd->add_option("--kv-pool-tokens", kv_pool_tokens,
                    "positions the paged KV cache holds, all sequences together (default: from the memory there is)")
        ->check(at_least(0));
    cmd->add_flag("--fast-batches", fast_batches,
                  "CUDA: decode batches of 8 or more sequences on tensor cores (faster; a sequence's logits then "
                  "depend on how many run with it, so the same request may give another text under load)");
  }
  KvQuantization kv_quantization() const { return {kv_bits, kv_group_size, quantized_kv_start}; }
  Precision precision_value() const { return precision == "f32" ? Precision::F32 : Precision::Fast; }
  // auto with --kv-bits: the CPU, the backend that has a quantized KV cache.
  Device device_value() const { return kv_bits && device == "auto" ? Device::Cpu : resolve_device(device); }

  mlxcpp::EngineOptions options() const {
    mlxcpp::EngineOptions o{threads, precision_value(), device_value(), kv_quantization(), kv_pool_tokens};
    o.batch_invariant = !fast_batches;
    apply_tuning(tuning_from_environment(), o);
    return o;
  }

  // The options for the model in `dir`: mlx-lm's default KV group (64), where it does not
  // divide the model's head dimension and no group was given, becomes 32, said on stderr.
  mlxcpp::EngineOptions options_for(const std::filesystem::path& dir) const {
    mlxcpp::EngineOptions o = options();
    if (kv_bits && (!kv_group_option || kv_group_option->count() == 0)) {
      const int64_t head_dim = load_model_config(dir).head_dim;
      if (head_dim % o.kv_quantization.group != 0 && head_dim % 32 == 0) {
        std::fprintf(stderr, "--kv-bits: groups of 32 values (64 does not divide this model's head dimension of %lld)\n",
                     (long long)head_dim);
        o.kv_quantization.group = 32;
      }
    }
    return o;
  }

  // Loads the model; says on stderr where it runs when that is a GPU.
  std::unique_ptr<Engine> load(const std::filesystem::path& dir) const {
    auto model = Engine::load(dir, options_for(dir));
    if (model->device() == Device::Cuda) std::fprintf(stderr, "running on %s\n", model->device_description().c_str());
    return model;
  }
};

}  // namespace mlxcpp::cli
