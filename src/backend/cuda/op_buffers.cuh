// Device buffers for the single-operation entry points (device_ops.h), freed on every path
// out.
#pragma once

#include <algorithm>
#include <vector>

#include "backend/cuda/cuda_common.cuh"

namespace mlxcpp::cuda {

struct OpBuffers {
  std::vector<void*> held;
  OpBuffers() = default;
  OpBuffers(const OpBuffers&) = delete;
  OpBuffers& operator=(const OpBuffers&) = delete;
  ~OpBuffers() {
    for (void* p : held) cudaFree(p);
  }
  // `count` values copied from host, or zeros where host is null.
  template <typename T>
  T* upload(const T* host, size_t count) {
    void* p = nullptr;
    MLXCPP_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(T)));
    held.push_back(p);
    if (host)
      MLXCPP_CUDA_CHECK(cudaMemcpy(p, host, count * sizeof(T), cudaMemcpyHostToDevice));
    else
      MLXCPP_CUDA_CHECK(cudaMemset(p, 0, std::max<size_t>(count, 1) * sizeof(T)));
    return static_cast<T*>(p);
  }
  template <typename T>
  std::vector<T> download(const T* device, size_t count) {
    std::vector<T> host(count);
    MLXCPP_CUDA_CHECK(cudaMemcpy(host.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
};

}  // namespace mlxcpp::cuda
