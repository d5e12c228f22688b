#include "backend/cpu/kernel_choice.h"

#include <cstdlib>
#include <string_view>

namespace mlxcpp::cpu {
namespace {

KernelChoice detect() {
  KernelChoice c;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
    c.level = Kernel::Avx512;
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    c.level = Kernel::Avx2;
  const char* cap = std::getenv("MLXCPP_CPU_KERNEL");
  if (cap && std::string_view(cap) == "avx2" && c.level == Kernel::Avx512) c.level = Kernel::Avx2;
  if (cap && std::string_view(cap) == "none") c.level = Kernel::None;
  c.bf16 = c.level == Kernel::Avx512 && __builtin_cpu_supports("avx512bf16");
#endif
  return c;
}

}  // namespace

const KernelChoice& kernel_choice() {
  static const KernelChoice c = detect();  // CPU features do not change while running
  return c;
}

}  // namespace mlxcpp::cpu
