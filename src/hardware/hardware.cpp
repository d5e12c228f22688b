#include "hardware/hardware.h"

#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "hardware/gpu_probe.h"
#include "hub/hf_cache.h"

namespace mlxcpp {
namespace {

uint64_t meminfo_kb(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string k;
  uint64_t v;
  std::string unit;
  while (in >> k >> v) {
    std::getline(in, unit);
    if (k == key + ":") return v;
  }
  return 0;
}

// cgroup v2 memory.max, else v1 limit_in_bytes; 0 when unlimited or absent.
uint64_t cgroup_limit() {
  for (const char* p : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream in(p);
    std::string s;
    if (!(in >> s) || s == "max") continue;
    try {
      const uint64_t v = std::stoull(s);
      if (v < (uint64_t(1) << 60)) return v;
    } catch (...) {
    }
  }
  return 0;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("model name") || line.starts_with("Model")) {
      const auto c = line.find(':');
      if (c != std::string::npos) return line.substr(c + 2);
    }
  return "unknown";
}

std::string os_name() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("PRETTY_NAME=")) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  return "Linux";
}

std::vector<std::string> simd_features() {
  std::vector<std::string> f;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) f.push_back("sse4.2");
  if (__builtin_cpu_supports("avx")) f.push_back("avx");
  if (__builtin_cpu_supports("avx2")) f.push_back("avx2");
  if (__builtin_cpu_supports("fma")) f.push_back("fma");
  if (__builtin_cpu_supports("avx512f")) f.push_back("avx512f");
  if (__builtin_cpu_supports("avx512bw")) f.push_back("avx512bw");
  if (__builtin_cpu_supports("avx512vl")) f.push_back("avx512vl");
  if (__builtin_cpu_supports("avx512vnni")) f.push_back("avx512vnni");
  if (__builtin_cpu_supports("avx512bf16")) f.push_back("avx512bf16");
#elif defined(__aarch64__)
  f.push_back("neon");
#endif
  return f;
}

}  // namespace

uint64_t HardwareInfo::usable_ram_bytes() const {
  return cgroup_limit_bytes ? std::min(ram_available_bytes, cgroup_limit_bytes) : ram_available_bytes;
}

HardwareInfo detect_hardware() {
  HardwareInfo h;
  utsname u{};
  if (uname(&u) == 0) {
    h.kernel = std::string(u.sysname) + " " + u.release;
    h.arch = u.machine;
  }
  h.os = os_name();
  h.cpu_model = cpu_model();
  h.logical_cores = int(std::thread::hardware_concurrency());
  h.simd = simd_features();
  h.ram_total_bytes = meminfo_kb("MemTotal") * 1024;
  h.ram_available_bytes = meminfo_kb("MemAvailable") * 1024;
  h.cgroup_limit_bytes = cgroup_limit();
  // NVML needs only the driver; the CUDA runtime (CUDA builds) is the fallback.
  std::string nvml_note;
  h.gpus = probe_gpus_nvml(&nvml_note);
  if (h.gpus.empty()) {
    std::string cuda_note;
    h.gpus = cuda_devices(&cuda_note);
    h.gpu_note = h.gpus.empty() ? nvml_note + "; CUDA runtime: " + cuda_note : "found through the CUDA runtime";
  } else {
    h.gpu_note = "found through NVML";
  }
  // Free space where downloads would land: the cache dir or its nearest existing parent.
  std::filesystem::path p = hub_cache_dir();
  h.cache_dir = p.string();
  while (!p.empty() && !std::filesystem::exists(p)) p = p.parent_path();
  struct statvfs s {};
  if (!p.empty() && statvfs(p.c_str(), &s) == 0) h.cache_free_bytes = uint64_t(s.f_bavail) * s.f_frsize;
  return h;
}

nlohmann::json HardwareInfo::to_json() const {
  nlohmann::json gpus_j = nlohmann::json::array();
  for (const auto& g : gpus)
    gpus_j.push_back({{"index", g.index}, {"name", g.name}, {"total_bytes", g.total_bytes}, {"free_bytes", g.free_bytes},
                      {"compute_capability", std::to_string(g.compute_major) + "." + std::to_string(g.compute_minor)},
                      {"memory_bandwidth_bytes_per_s", g.memory_bandwidth}});
  return {{"os", os},
          {"kernel", kernel},
          {"arch", arch},
          {"cpu_model", cpu_model},
          {"logical_cores", logical_cores},
          {"simd", simd},
          {"ram_total_bytes", ram_total_bytes},
          {"ram_available_bytes", ram_available_bytes},
          {"cgroup_memory_limit_bytes", cgroup_limit_bytes ? nlohmann::json(cgroup_limit_bytes) : nlohmann::json(nullptr)},
          {"usable_ram_bytes", usable_ram_bytes()},
          {"gpus", gpus_j},
          {"gpu_note", gpu_note},
          {"cache_dir", cache_dir},
          {"cache_free_bytes", cache_free_bytes}};
}

}  // namespace mlxcpp
