#include <cstdio>

#include "cli/commands.h"
#include "hardware/hardware.h"

namespace mlxcpp::cli {

void register_hw(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("hw", "This machine: CPU, SIMD, memory (cgroup-aware), GPUs, free disk for the cache");
  cmd->add_flag("--json", *json, "Print one JSON object");
  cmd->callback([json] {
    const HardwareInfo h = detect_hardware();
    if (*json) {
      std::printf("%s\n", h.to_json().dump(2).c_str());
      return;
    }
    auto gib = [](uint64_t b) { return double(b) / double(uint64_t(1) << 30); };
    std::string simd;
    for (const auto& s : h.simd) simd += (simd.empty() ? "" : " ") + s;
    std::printf("os           %s (%s, %s)\n", h.os.c_str(), h.kernel.c_str(), h.arch.c_str());
    std::printf("cpu          %s, %d logical cores\n", h.cpu_model.c_str(), h.logical_cores);
    std::printf("simd         %s\n", simd.empty() ? "-" : simd.c_str());
    std::printf("ram          %.1f GiB total, %.1f GiB available%s\n", gib(h.ram_total_bytes), gib(h.ram_available_bytes),
                h.cgroup_limit_bytes ? (", cgroup limit " + std::to_string(gib(h.cgroup_limit_bytes)).substr(0, 5) + " GiB").c_str() : "");
    if (h.gpus.empty()) std::printf("gpus         none (%s)\n", h.gpu_note.c_str());
    for (const auto& g : h.gpus)
      std::printf("gpu %d        %s, %.1f GiB (%.1f GiB free), sm_%d%d\n", g.index, g.name.c_str(), gib(g.total_bytes),
                  gib(g.free_bytes), g.compute_major, g.compute_minor);
    std::printf("cache        %s (%.1f GiB free)\n", h.cache_dir.c_str(), gib(h.cache_free_bytes));
  });
}

}  // namespace mlxcpp::cli
