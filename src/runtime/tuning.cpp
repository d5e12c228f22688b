#include "runtime/tuning.h"

#include <cstdlib>
#include <string_view>

#include "backend/cpu/kernel_choice.h"
#include "backend/backend.h"
#include "backend/cuda/device_ops.h"
#include "runtime/engine.h"

namespace mlxcpp {

Tuning tuning_from_environment() {
  Tuning t;
  if (const char* k = std::getenv("MLXCPP_CPU_KERNEL")) {
    if (std::string_view(k) == "avx512") t.cpu_kernel_cap = 2;
    if (std::string_view(k) == "avx2") t.cpu_kernel_cap = 1;
    if (std::string_view(k) == "none") t.cpu_kernel_cap = 0;
  }
  if (const char* h = std::getenv("MLXCPP_HUGE_PAGES")) t.huge_pages = std::string_view(h) != "0";
  if (const char* d = std::getenv("MLXCPP_DRAW_CTAS")) t.single_block_draw = std::string_view(d) == "1";
  if (const char* g = std::getenv("MLXCPP_CUDA_GRAPHS")) t.cuda_graphs = std::string_view(g) != "0";
  return t;
}

void apply_tuning(const Tuning& t) {
  cpu::cap_kernel_choice(t.cpu_kernel_cap <= 0 ? cpu::Kernel::None
                         : t.cpu_kernel_cap == 1 ? cpu::Kernel::Avx2
                                                 : cpu::Kernel::Avx512,
                         /*amx=*/t.cpu_kernel_cap > 2);
  set_single_block_draw(t.single_block_draw);
}

void apply_tuning(const Tuning& t, EngineOptions& options) {
  options.huge_pages = t.huge_pages;
  options.cuda_graphs = t.cuda_graphs;
}

}  // namespace mlxcpp
