// Single CUDA operations for the op tests and benchmarks, on host buffers: one weight
// product with the kernels the backend uses, and the backend's draw kernel alone. Plain
// C++ (a build without CUDA links backend/cuda/no_cuda.cpp, whose versions say so).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backend/cuda/matrix_plan.h"
#include "backend/token_draw.h"

namespace mlxcpp {

class DeviceLinear {
 public:
  virtual ~DeviceLinear() = default;
  // y[n, rows] = x[n, cols] · Wᵀ (+ bias), host buffers.
  virtual void run(const float* x, int64_t n, float* y) = 0;
};
// tensor_core_rows: as MatmulScratch's (products of at least that many rows take the
// bf16 tensor-core kernel where it serves the matrix; 0: never). decode (or
// tensor_core_rows > 0): up to 128 rows take the decode kernels, as a decode pass does;
// otherwise more than 4 take cuBLAS, as a prefill chunk does.
std::unique_ptr<DeviceLinear> make_cuda_linear(const MatrixPlan& weight, bool f32, int tensor_core_rows = 0,
                                               bool decode = false);

// `logits` (host, [vocab]) to the device, the draw there, the token back.
class DeviceSampler {
 public:
  virtual ~DeviceSampler() = default;
  virtual int32_t draw(const float* logits, const TokenDraw& draw) = 0;
};
std::unique_ptr<DeviceSampler> make_cuda_sampler(int64_t vocab);

// Attention of decode rows alone, on host buffers: each row's query heads (already
// normalised and rotated) over its own sequence's keys and values, which go into a bf16
// paged cache as the backend's do. A row with a span length takes the decode kernel (its
// positions in spans of that length, merged), one without it the one-span kernel.
struct AttentionProblem {
  int64_t heads = 0, kv_heads = 0, head_dim = 0;
  float scale = 1.0f, softcap = 0.0f;
  int64_t window = 0;               // 0: every earlier position
  std::vector<float> sinks;         // [heads], or empty
  std::vector<int32_t> positions;   // per row: its position (it attends to 0..pos)
  std::vector<int32_t> spans;       // per row: span length, 0 for one span
  std::vector<float> queries;       // [rows][heads · head_dim]
  std::vector<std::vector<float>> keys, values;  // per row: [pos + 1][kv_heads][head_dim]
};
// [rows][heads · head_dim].
std::vector<float> cuda_attention(const AttentionProblem& p);

// A mixture's routing for n rows of E router logits ([n][E], host): each row's top k
// experts by softmax probability (the lower index on ties) in ascending expert order, and
// their weights, renormalised over the k if asked.
struct Routing {
  std::vector<int32_t> experts;  // [n][k]
  std::vector<float> weights;    // [n][k]
};
Routing cuda_route(const std::vector<float>& logits, int n, int experts, int k, bool renormalize);

// The draw kernel in one block on every GPU (the path of GPUs before sm_90, which have no
// thread-block clusters), for the whole process: how that path is tested on newer ones.
void set_single_block_draw(bool one_block);

}  // namespace mlxcpp
