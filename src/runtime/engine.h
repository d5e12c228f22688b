// A model on a backend: loads it (model/model_program.h), chooses where it runs (the CUDA
// backend, or the CPU backend — the reference, and the fallback for a program the GPU
// cannot run), owns the KV cache pool and runs batched forward passes: B sequences, each
// with its own tokens (a prefill chunk or one decode token) and KV blocks, in one pass.
// Batch size 1 is B = 1: the path is the same.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/device_info.h"
#include "backend/kv_pool.h"
#include "backend/token_draw.h"
#include "model/model_program.h"

namespace mlxcpp {

struct EngineOptions {
  int threads = 0;  // CPU threads (0: every core)
  Precision precision = Precision::F32;
  Device device = Device::Cpu;
  KvQuantization kv_quantization;  // mlx-lm's kv_bits (CPU)
  int64_t kv_pool_tokens = 0;      // positions the KV pool holds; 0: a default from the memory there is
  bool huge_pages = true;          // the CPU backend's copy of the weights on huge pages
  bool batch_invariant = true;     // CUDA: false lets large decode batches take faster, size-dependent products
  bool cuda_graphs = true;         // CUDA: decode passes replay captured graphs (CudaOptions::graphs)
};

// One sequence's part of a batched step.
struct EngineStep {
  std::span<const int32_t> tokens;
  KvSequence* kv = nullptr;
  StepOutput output = StepOutput::None;
  const TokenDraw* draw = nullptr;       // StepOutput::Token: the sampler's draw
  std::vector<float>* logits = nullptr;  // Logits / AllLogits: resized and filled
  int32_t token = -1;                    // StepOutput::Token: the result
};

class Engine {
 public:
  static std::unique_ptr<Engine> load(const std::filesystem::path& dir, const EngineOptions& options = {});
  ~Engine();

  const ModelConfig& config() const { return model_->config(); }
  const ArchTraits& traits() const { return model_->traits(); }
  const ModelProgram& program() const { return model_->program(); }
  const LoadedModel& model() const { return *model_; }
  Precision precision() const { return options_.precision; }
  Device device() const { return device_; }
  std::string device_description() const { return backend_->describe(); }
  int threads() const { return threads_; }
  uint64_t weight_bytes() const;
  const KvPool& kv_pool() const { return *pool_; }
  KvPool& kv_pool() { return *pool_; }
  // KV bytes one position of a sequence takes in the pool.
  uint64_t kv_bytes_per_position() const { return pool_->block_bytes() / uint64_t(kKvBlock); }

  // An empty sequence on this engine's pool.
  KvSequence new_sequence() const { return KvSequence(pool_); }

  // Every step's tokens through the model in one pass; each sequence then holds them.
  // Errors for what a caller can get wrong (no tokens, ids outside the vocabulary, a
  // sequence of another engine, more positions than the context) and KvPoolFull change
  // nothing.
  void forward(std::span<EngineStep> steps);

  // B = 1: the logits of the last token (or of every token).
  void forward(std::span<const int32_t> tokens, KvSequence& kv, std::vector<float>& logits, bool all_logits = false);
  // B = 1: the draw on the last token's logits (TokenDraw{}: the largest, the first on ties).
  int32_t forward_draw(std::span<const int32_t> tokens, KvSequence& kv, const TokenDraw& draw);

 private:
  Engine() = default;
  EngineOptions options_;
  Device device_ = Device::Cpu;
  int threads_ = 0;
  std::unique_ptr<LoadedModel> model_;
  std::unique_ptr<Backend> backend_;
  std::shared_ptr<KvPool> pool_;
  std::vector<std::vector<float>> rope_freqs_;  // per step, kept from call to call
  std::vector<SequenceStep> batch_;
  std::vector<std::vector<float>> draw_logits_;  // per step, for draws run on the host
};

}  // namespace mlxcpp
