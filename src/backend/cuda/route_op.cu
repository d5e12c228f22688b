// cuda_route (device_ops.h): the router's top-k kernel alone, for the op tests.
#include <stdexcept>
#include <string>

#include "backend/cuda/device_ops.h"
#include "backend/cuda/kernels.cuh"
#include "backend/cuda/op_buffers.cuh"

namespace mlxcpp {

Routing cuda_route(const std::vector<float>& logits, int n, int experts, int k, bool renormalize) {
  using namespace cuda;
  if (int64_t(logits.size()) != int64_t(n) * experts)
    throw std::invalid_argument("cuda_route: " + std::to_string(logits.size()) + " logits for " + std::to_string(n) +
                                " rows of " + std::to_string(experts));
  if (k < 1 || k > kMaxExpertsPerToken || k > experts)
    throw std::invalid_argument("cuda_route: k = " + std::to_string(k) + " of " + std::to_string(experts));
  OpBuffers dev;
  int32_t* chosen = dev.upload<int32_t>(nullptr, size_t(n) * k);
  float* weight = dev.upload<float>(nullptr, size_t(n) * k);
  moe_route(dev.upload(logits.data(), logits.size()), n, experts, k, renormalize, chosen, weight, nullptr);
  MLXCPP_CUDA_CHECK(cudaDeviceSynchronize());
  return {dev.download(chosen, size_t(n) * k), dev.download(weight, size_t(n) * k)};
}

}  // namespace mlxcpp
