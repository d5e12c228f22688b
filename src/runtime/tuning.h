// Process-wide settings for testing and ruling out kernels, read from the environment by
// the front ends (the CLI, the C API, the test programs) and handed down: nothing below
// reads the environment.
//   MLXCPP_CPU_KERNEL=avx512|avx2|none  caps the CPU kernels (backend/cpu/kernel_choice.h)
//   MLXCPP_HUGE_PAGES=0          CPU weights stay mapped from the page cache (EngineOptions)
//   MLXCPP_DRAW_CTAS=1           the GPU draw in one block, as before sm_90
//   MLXCPP_CUDA_GRAPHS=0         decode passes launch each kernel (for ncu), no CUDA graphs
#pragma once

namespace mlxcpp {

struct EngineOptions;

struct Tuning {
  int cpu_kernel_cap = 3;  // 0: none, 1: AVX2, 2: AVX-512 without AMX, 3: the best the CPU has
  bool huge_pages = true;
  bool single_block_draw = false;
  bool cuda_graphs = true;
};

Tuning tuning_from_environment();
// Applies the process-wide parts (CPU kernels, GPU draw) once, before any model runs.
void apply_tuning(const Tuning& t);
// The per-engine parts.
void apply_tuning(const Tuning& t, EngineOptions& options);

}  // namespace mlxcpp
