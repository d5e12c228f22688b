// What accelerators this build can use. The CUDA implementation lives in
// backend/cuda/cuda_device.cu; a build without CUDA links backend/cuda/no_cuda.cpp,
// which reports "not built with CUDA" rather than pretending there is no GPU.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mlxcpp {

struct GpuInfo {
  int index = 0;
  std::string name;
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  int compute_major = 0, compute_minor = 0;
  double memory_bandwidth = 0;  // peak bytes/s from NVML (memory clock × bus width); 0: unknown
};

// Where a model runs.
enum class Device { Cpu, Cuda };
std::string_view device_name(Device d);  // "cpu", "cuda"
// "cpu", "cuda" or "auto" (CUDA when this build can run models there and a GPU is
// visible, else the CPU). Throws Error for other names, and for "cuda" when it cannot be.
Device resolve_device(std::string_view name);

bool built_with_cuda();
// Whether models can run on the GPU in this build (device discovery alone is not enough):
// recommend only counts detected VRAM when they can.
bool cuda_inference_available();
// GPUs visible to the CUDA runtime; empty when there are none or no driver. `why`
// receives the reason when the list is empty.
std::vector<GpuInfo> cuda_devices(std::string* why = nullptr);

}  // namespace mlxcpp
