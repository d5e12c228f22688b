// The shared decoder-only transformer that every supported architecture runs on, with
// the per-architecture differences supplied by ArchTraits. On the CPU it runs here
// (Precision::F32 is the reference path: weights dequantized exactly, w = scale*q + bias
// in f32, all activations f32). On a device it binds and checks the weights the same way,
// describes them in a DecoderPlan and hands that to the device backend, which runs
// forward() from then on; model code never sees a CUDA header.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "backend/device_decoder.h"
#include "backend/device_info.h"
#include "backend/token_draw.h"
#include "format/model_config.h"
#include "format/weight_set.h"
#include "model/architecture.h"
#include "model/kv_cache.h"
#include "model/rope.h"
#include "model/weight_matrix.h"
#include "runtime/thread_pool.h"

namespace mlxcpp {

class DecoderLM {
 public:
  // Loads config.json and the weights of a model directory (for the CPU read into huge
  // pages, for a GPU mmapped: util/mapped_file.h).
  static std::unique_ptr<DecoderLM> load(const std::filesystem::path& dir, int threads = 0,
                                         Precision precision = Precision::F32, Device device = Device::Cpu);
  ~DecoderLM();

  const ModelConfig& config() const { return cfg_; }
  const ArchTraits& traits() const { return traits_; }
  Precision precision() const { return precision_; }
  Device device() const { return gpu_ ? Device::Cuda : Device::Cpu; }
  // The device and what is resident there ("" on the CPU).
  std::string device_description() const { return gpu_ ? gpu_->describe() : std::string(); }
  int threads() const { return pool_.size(); }
  KVCache new_cache(int64_t capacity) const;
  // mlx-lm's kv_bits / kv_group_size / quantized_kv_start for the caches made from now on
  // (kv_cache.h). Checked against the model here; the CUDA backend does not have it.
  void set_kv_quantization(const KvQuantization& q);
  uint64_t weight_bytes() const;

  // Runs `tokens` at positions cache.length.., appending their K/V to the cache. Fills
  // `logits` with [n_out, vocab] for the last token (all_logits false) or every token.
  void forward(std::span<const int32_t> tokens, KVCache& cache, std::vector<float>& logits, bool all_logits = false);
  // The same, then the sampler's draw on the last token's logits (TokenDraw{}: the largest,
  // the first on ties); returns the token. On a GPU the draw runs there and only the token
  // is copied back.
  int32_t forward_draw(std::span<const int32_t> tokens, KVCache& cache, const TokenDraw& draw);

 private:
  struct Layer {
    std::vector<float> input_norm, post_attn_norm, pre_ffn_norm, post_ffn_norm, q_norm, k_norm;
    WeightMatrix qkv, q, k, v, o, gate_up, gate, up, down;
    bool sliding = false;
  };
  DecoderLM(ModelConfig cfg, WeightSet ws, int threads, Precision precision);
  KvQuantization kv_quant_;
  DecoderPlan plan() const;
  // Errors for what a caller can get wrong: no tokens, a cache of another device, ids outside
  // the vocabulary, more tokens than the cache holds. Nothing has changed when it throws.
  void check_forward(std::span<const int32_t> tokens, const KVCache& cache) const;
  // forward() on the device, after check_forward.
  void forward_device(std::span<const int32_t> tokens, KVCache& cache, std::vector<float>* logits, bool all_logits,
                      const TokenDraw* draw, int32_t* token);
  void attention(Layer& L, int64_t layer, const float* h, int64_t n, KVCache& cache, float* out);
  void mlp(Layer& L, const float* h, int64_t n, float* out);

  ModelConfig cfg_;
  Precision precision_;
  ArchTraits traits_;
  WeightSet weights_;
  ThreadPool pool_;
  Rope rope_;
  WeightMatrix embed_, lm_head_;
  std::vector<float> final_norm_;
  std::vector<Layer> layers_;
  std::unique_ptr<DeviceDecoder> gpu_;
  std::vector<float> draw_logits_;  // forward_draw's logits on the CPU
};

}  // namespace mlxcpp
