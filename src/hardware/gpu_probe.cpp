#include "hardware/gpu_probe.h"

#include <dlfcn.h>

namespace mlxcpp {
namespace {

// The few NVML entry points used, with the ABI of nvml.h (stable since NVML 5).
using nvmlDevice_t = void*;
struct NvmlMemory {
  unsigned long long total, free, used;
};
using InitFn = int (*)();
using CountFn = int (*)(unsigned*);
using HandleFn = int (*)(unsigned, nvmlDevice_t*);
using NameFn = int (*)(nvmlDevice_t, char*, unsigned);
using MemoryFn = int (*)(nvmlDevice_t, NvmlMemory*);
using CapabilityFn = int (*)(nvmlDevice_t, int*, int*);
using ClockFn = int (*)(nvmlDevice_t, int, unsigned*);
using BusWidthFn = int (*)(nvmlDevice_t, unsigned*);
constexpr int kNvmlClockMem = 2;  // NVML_CLOCK_MEM

template <typename Fn>
Fn symbol(void* lib, const char* name) {
  return reinterpret_cast<Fn>(dlsym(lib, name));
}

}  // namespace

std::vector<GpuInfo> probe_gpus_nvml(std::string* why) {
  std::vector<GpuInfo> out;
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    if (why) *why = "no NVIDIA driver (libnvidia-ml.so.1 not found)";
    return out;
  }
  auto init = symbol<InitFn>(lib, "nvmlInit_v2");
  auto shutdown = symbol<InitFn>(lib, "nvmlShutdown");
  auto count_fn = symbol<CountFn>(lib, "nvmlDeviceGetCount_v2");
  auto handle_fn = symbol<HandleFn>(lib, "nvmlDeviceGetHandleByIndex_v2");
  auto name_fn = symbol<NameFn>(lib, "nvmlDeviceGetName");
  auto memory_fn = symbol<MemoryFn>(lib, "nvmlDeviceGetMemoryInfo");
  auto capability_fn = symbol<CapabilityFn>(lib, "nvmlDeviceGetCudaComputeCapability");
  auto clock_fn = symbol<ClockFn>(lib, "nvmlDeviceGetMaxClockInfo");
  auto bus_fn = symbol<BusWidthFn>(lib, "nvmlDeviceGetMemoryBusWidth");
  unsigned count = 0;
  if (!init || !count_fn || !handle_fn || !name_fn || !memory_fn || init() != 0) {
    if (why) *why = "NVML could not be initialised (driver/library mismatch?)";
    dlclose(lib);
    return out;
  }
  if (count_fn(&count) == 0) {
    for (unsigned i = 0; i < count; ++i) {
      nvmlDevice_t dev = nullptr;
      if (handle_fn(i, &dev) != 0) continue;
      GpuInfo g;
      g.index = int(i);
      char name[96] = {0};
      if (name_fn(dev, name, sizeof(name)) == 0) g.name = name;
      NvmlMemory mem{};
      if (memory_fn(dev, &mem) == 0) g.total_bytes = mem.total, g.free_bytes = mem.free;
      if (capability_fn) capability_fn(dev, &g.compute_major, &g.compute_minor);
      // Peak memory bandwidth: two transfers per memory clock over the bus.
      unsigned mhz = 0, bits = 0;
      if (clock_fn && bus_fn && clock_fn(dev, kNvmlClockMem, &mhz) == 0 && bus_fn(dev, &bits) == 0)
        g.memory_bandwidth = double(mhz) * 1e6 * 2.0 * double(bits) / 8.0;
      out.push_back(g);
    }
  }
  if (shutdown) shutdown();
  dlclose(lib);
  if (out.empty() && why) *why = "the NVIDIA driver reports no GPU";
  return out;
}

}  // namespace mlxcpp
