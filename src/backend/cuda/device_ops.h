// Single CUDA operations for the op tests and benchmarks, on host buffers: one weight
// product with the kernels the backend uses, and the backend's draw kernel alone. Plain
// C++ (a build without CUDA links backend/cuda/no_cuda.cpp, whose versions say so).
#pragma once

#include <cstdint>
#include <memory>

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
// tensor-core kernel where it serves the matrix; 0: never).
std::unique_ptr<DeviceLinear> make_cuda_linear(const MatrixPlan& weight, bool f32, int tensor_core_rows = 0);

// `logits` (host, [vocab]) to the device, the draw there, the token back.
class DeviceSampler {
 public:
  virtual ~DeviceSampler() = default;
  virtual int32_t draw(const float* logits, const TokenDraw& draw) = 0;
};
std::unique_ptr<DeviceSampler> make_cuda_sampler(int64_t vocab);

// The draw kernel in one block on every GPU (the path of GPUs before sm_90, which have no
// thread-block clusters), for the whole process: how that path is tested on newer ones.
void set_single_block_draw(bool one_block);

}  // namespace mlxcpp
