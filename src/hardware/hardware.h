// What this machine offers a model: CPU and SIMD features, memory (cgroup limits
// respected), NVIDIA GPUs, and free disk where the Hugging Face cache lives.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/device_info.h"

namespace mlxcpp {

struct HardwareInfo {
  std::string os, kernel, arch, cpu_model;
  int logical_cores = 0;
  std::vector<std::string> simd;  // avx2, avx512f, avx512vnni, fma, f16c, neon, ...
  uint64_t ram_total_bytes = 0, ram_available_bytes = 0;
  uint64_t cgroup_limit_bytes = 0;  // 0: none
  std::vector<GpuInfo> gpus;
  std::string gpu_note;  // why the list is empty, if it is
  std::string cache_dir;
  uint64_t cache_free_bytes = 0;

  // Memory a model may use: available RAM, capped by the cgroup limit.
  uint64_t usable_ram_bytes() const;
  nlohmann::json to_json() const;
};

HardwareInfo detect_hardware();

}  // namespace mlxcpp
