// The CPU backend: the reference executor of a model program (Precision::F32: weights
// dequantized exactly, f32 activations and KV cache) and its fast path (SIMD kernels, bf16
// KV cache), over ragged batches. All rows of a batch go through each weight product
// together (the weights are read once per step, whatever the batch); attention takes each
// sequence's rows against its own blocks. No row's arithmetic depends on the other rows,
// so a sequence gets the same bits alone or in any batch.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "backend/kv_pool.h"

namespace mlxcpp {

struct CpuBackendOptions {
  int threads = 0;  // 0: every core
  KvQuantization kv_quantization;
  bool huge_pages = true;  // the backend's copy of the weights on huge pages (util/huge_buffer.h)
  // The page-cache file mappings the program's weights lie in (resident_weights.h).
  std::vector<std::span<const uint8_t>> source_files;
};

// The backend copies the program's weight matrices (backend/cpu/resident_weights.h); the
// program's other arrays (norms, biases) are read in place: `program` must outlive it.
std::unique_ptr<Backend> make_cpu_backend(const ModelProgram& program, const CpuBackendOptions& options);

}  // namespace mlxcpp
