#include "runtime/engine.h"

#include <algorithm>
#include <iostream>
#include <thread>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/draw.h"
#include "util/error.h"

namespace mlxcpp {

std::unique_ptr<Engine> Engine::load(const std::filesystem::path& dir, const EngineOptions& options) {
  std::unique_ptr<Engine> e(new Engine());
  e->options_ = options;
  // Both backends read the weights once from the page cache, into their own memory (the
  // GPU's, or the CPU backend's huge pages in its kernels' order), and the file's pages
  // are dropped afterwards.
  const bool gpu = options.device == Device::Cuda;
  e->model_ = LoadedModel::load(dir, Residency::PageCache, options.precision);
  const ModelProgram& program = e->model_->program();
  if (gpu) {
    if (options.kv_quantization.bits)
      fail("kv_bits: the CUDA backend keeps its KV cache in bf16 (run with --device cpu)");
    const std::string why = cuda_unsupported(program);
    if (why.empty()) {
      try {
        e->backend_ = make_cuda_backend(program, {.batch_invariant = options.batch_invariant, .graphs = options.cuda_graphs});
      } catch (const Error&) {
        throw;
      } catch (const std::exception& ex) {
        fail("{}: cannot run on CUDA: {}", dir.string(), ex.what());
      }
      e->device_ = Device::Cuda;
      // The weights now live in GPU memory: the host copies leave the process's RSS.
      for (const auto& f : e->model_->weights().files()) f->release_resident();
    } else {
      std::cerr << "note: " << dir.string() << " runs on the CPU: the CUDA backend cannot run it (" << why << ")\n";
      e->model_ = LoadedModel::load(dir, Residency::PageCache, options.precision);
    }
  }
  if (e->model_->config().multimodal)
    std::cerr << "note: " << dir.string() << " is multimodal: its text model runs; its vision tower is not loaded\n";
  if (!e->backend_) {
    CpuBackendOptions cpu{.threads = options.threads, .kv_quantization = options.kv_quantization,
                          .huge_pages = options.huge_pages, .source_files = {}};
    for (const auto& f : e->model_->weights().files()) cpu.source_files.push_back(f->bytes());
    e->backend_ = make_cpu_backend(e->model_->program(), cpu);
    for (const auto& f : e->model_->weights().files()) f->release_resident();
  }
  e->threads_ = options.threads > 0 ? options.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  const ModelConfig& c = e->model_->config();
  const KvLayout layout{c.num_hidden_layers, c.num_key_value_heads, c.head_dim};
  if (options.kv_pool_tokens < 0) fail("kv_pool_tokens must be >= 0, got {}", options.kv_pool_tokens);
  const int64_t blocks = kv_blocks_for(options.kv_pool_tokens);
  if (blocks > INT32_MAX) fail("kv_pool_tokens {} is too large", options.kv_pool_tokens);
  e->pool_ = std::make_shared<KvPool>(e->backend_->make_kv_store(layout, int32_t(blocks)));
  return e;
}

Engine::~Engine() = default;

uint64_t Engine::weight_bytes() const {
  uint64_t total = 0;
  for (const auto& f : model_->weights().files()) total += f->file_size();
  return total;
}

void Engine::forward(std::span<EngineStep> steps) {
  const ModelConfig& c = config();
  for (const EngineStep& s : steps) {
    if (s.tokens.empty()) fail("forward: no tokens");
    if (!s.kv || s.kv->pool() != pool_.get()) fail("forward: the KV cache belongs to another engine");
    for (const int32_t id : s.tokens)
      if (id < 0 || id >= c.vocab_size) fail("token id {} is outside the model's vocabulary of {}", id, c.vocab_size);
    const int64_t end = s.kv->length() + int64_t(s.tokens.size());
    if (end > c.context_length())
      fail("context overflow: {} positions do not fit the model's context of {}", end, c.context_length());
    if ((s.output == StepOutput::Logits || s.output == StepOutput::AllLogits) && !s.logits)
      fail("forward: logits wanted but no buffer given");
    if (s.output == StepOutput::Token && !s.draw) fail("forward: a draw wanted but none given");
    for (const EngineStep& o : steps)
      if (&o != &s && o.kv == s.kv) fail("forward: one sequence twice in a batch");
  }
  size_t reserved = 0;
  try {
    for (; reserved < steps.size(); ++reserved) steps[reserved].kv->reserve(int64_t(steps[reserved].tokens.size()));
  } catch (const KvPoolFull&) {
    // The blocks reserved for the others go back: a scheduler retries with fewer.
    for (size_t i = 0; i < reserved; ++i) steps[i].kv->truncate(steps[i].kv->length());
    throw;
  }
  if (rope_freqs_.size() < steps.size()) rope_freqs_.resize(steps.size());
  if (draw_logits_.size() < steps.size()) draw_logits_.resize(steps.size());
  batch_.clear();
  for (size_t i = 0; i < steps.size(); ++i) {
    EngineStep& s = steps[i];
    model_->rope_freqs(s.kv->length() + int64_t(s.tokens.size()), rope_freqs_[i]);
    SequenceStep b{s.tokens, s.kv, rope_freqs_[i], s.output, s.draw, nullptr, &s.token};
    if (s.output == StepOutput::Token && !backend_->can_draw(*s.draw)) {
      // A draw the backend cannot carry out runs here, on the logits.
      draw_logits_[i].resize(size_t(c.vocab_size));
      b.output = StepOutput::Logits;
      b.logits = draw_logits_[i].data();
    } else if (s.output == StepOutput::Logits || s.output == StepOutput::AllLogits) {
      s.logits->resize(size_t((s.output == StepOutput::AllLogits ? int64_t(s.tokens.size()) : 1) * c.vocab_size));
      b.logits = s.logits->data();
    }
    batch_.push_back(b);
  }
  backend_->forward(batch_);
  for (size_t i = 0; i < steps.size(); ++i) {
    EngineStep& s = steps[i];
    s.kv->advance(int64_t(s.tokens.size()));
    if (batch_[i].output != s.output) s.token = cpu::draw_token(draw_logits_[i], *s.draw);
  }
}

void Engine::forward(std::span<const int32_t> tokens, KvSequence& kv, std::vector<float>& logits, bool all_logits) {
  EngineStep step{tokens, &kv, all_logits ? StepOutput::AllLogits : StepOutput::Logits, nullptr, &logits};
  forward(std::span<EngineStep>(&step, 1));
}

int32_t Engine::forward_draw(std::span<const int32_t> tokens, KvSequence& kv, const TokenDraw& draw) {
  EngineStep step{tokens, &kv, StepOutput::Token, &draw};
  forward(std::span<EngineStep>(&step, 1));
  return step.token;
}

}  // namespace mlxcpp
