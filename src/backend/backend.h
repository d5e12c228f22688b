// What executes a model program (backend/program.h): the CPU backend, the reference and
// the fallback, and the CUDA backend. A backend holds the program's weights where it
// computes, says which steps it cannot run (unsupported), makes the KV block store of a
// pool, and runs forward passes over ragged batches: B sequences, each with its own
// tokens (a prefill chunk or one decode token), positions and KV blocks, in one pass.
// Every sequence's results are those it would get alone (batch invariance).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/kv_pool.h"
#include "backend/program.h"
#include "backend/token_draw.h"

namespace mlxcpp {

// What a sequence of the batch wants back from its last token (or from every token).
enum class StepOutput {
  None,       // a prompt chunk whose logits nobody reads
  Logits,     // the last token's logits
  AllLogits,  // every token's logits
  Token,      // the draw on the last token's logits (Backend::can_draw), only the token back
};

struct SequenceStep {
  std::span<const int32_t> tokens;  // appended at positions kv->length()..
  KvSequence* kv = nullptr;         // reserved for the tokens (KvSequence::reserve)
  // The inverse frequencies of every RoPE of the program, in order (ModelProgram::rope_freqs).
  std::span<const float> rope_freqs;
  StepOutput output = StepOutput::None;
  const TokenDraw* draw = nullptr;  // StepOutput::Token
  float* logits = nullptr;          // Logits: [vocab]; AllLogits: [tokens, vocab]
  int32_t* token = nullptr;         // Token
};

struct KvLayout {
  int64_t layers = 0, kv_heads = 0, head_dim = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // The device and what is resident there.
  virtual std::string describe() const = 0;
  // Blocks of `layout` for a pool: `blocks` of them, or (0) a default from the memory
  // there is. Throws Error with the numbers when the memory is short.
  virtual std::unique_ptr<KvBlockStore> make_kv_store(const KvLayout& layout, int32_t blocks) = 0;
  virtual bool can_draw(const TokenDraw& draw) const = 0;
  // Runs every sequence's tokens through the model, storing their keys and values in its
  // blocks; the caller advances the sequences afterwards.
  virtual void forward(std::span<const SequenceStep> batch) = 0;
};

// The reason this program cannot run on CUDA ("" when it can), for the fallback to the CPU.
std::string cuda_unsupported(const ModelProgram& program);

struct CudaOptions {
  // Off: decode batches of kTensorCoreBatch sequences or more take the tensor-core product,
  // several times faster there, but a sequence's logits then depend on the batch's size.
  bool batch_invariant = true;
  // Off: decode passes launch their kernels one by one instead of replaying a captured CUDA
  // graph — slower, but a kernel profiler (ncu) then sees each kernel.
  bool graphs = true;
};

// Uploads the program's weights to CUDA device 0. Throws Error when the build has no
// CUDA, there is no GPU, or its free memory is short (the message gives the figures).
std::unique_ptr<Backend> make_cuda_backend(const ModelProgram& program, const CudaOptions& options = {});

}  // namespace mlxcpp
