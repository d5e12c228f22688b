// NVIDIA GPUs and their memory through NVML, loaded at run time with dlopen: works in
// builds without CUDA and on machines without the CUDA toolkit, needs only the driver.
#pragma once

#include <string>
#include <vector>

#include "backend/device_info.h"

namespace mlxcpp {

// Empty with `why` set when NVML is absent (no NVIDIA driver) or reports no GPU.
std::vector<GpuInfo> probe_gpus_nvml(std::string* why);

}  // namespace mlxcpp
