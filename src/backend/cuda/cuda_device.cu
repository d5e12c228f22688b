// CUDA device discovery through the runtime API. Model code never includes this file's
// headers; it sees only backend/device_info.h.
#include <cuda_runtime.h>

#include "backend/device_info.h"

namespace mlxcpp {

bool cuda_inference_available() { return true; }

bool built_with_cuda() { return true; }

std::vector<GpuInfo> cuda_devices(std::string* why) {
  std::vector<GpuInfo> out;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    // (Without an NVIDIA driver CUDA says "driver version is insufficient"; say what it means.)
    if (why) *why = std::string("no usable NVIDIA GPU (the CUDA runtime says: ") + cudaGetErrorString(err) + ")";
    return out;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    GpuInfo g;
    g.index = i;
    g.name = prop.name;
    g.total_bytes = prop.totalGlobalMem;
    g.compute_major = prop.major;
    g.compute_minor = prop.minor;
    size_t free_b = 0, total_b = 0;
    if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) g.free_bytes = free_b;
    out.push_back(g);
  }
  if (out.empty() && why) *why = "no CUDA device found";
  return out;
}

}  // namespace mlxcpp
