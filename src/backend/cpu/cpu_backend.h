// The CPU backend: the reference executor of a model program (Precision::F32: weights
// dequantized exactly, f32 activations and KV cache) and its fast path (SIMD kernels, bf16
// KV cache), over ragged batches. All rows of a batch go through each weight product
// together (the weights are read once per step, whatever the batch); attention takes each
// sequence's rows against its own blocks. No row's arithmetic depends on the other rows,
// so a sequence gets the same bits alone or in any batch.
#pragma once

#include <memory>

#include "backend/backend.h"
#include "backend/kv_pool.h"

namespace mlxcpp {

struct CpuBackendOptions {
  int threads = 0;  // 0: every core
  KvQuantization kv_quantization;
};

// `program` must outlive the backend.
std::unique_ptr<Backend> make_cpu_backend(const ModelProgram& program, const CpuBackendOptions& options);

}  // namespace mlxcpp
