#include "backend/cpu/kernel_choice.h"


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
  c.bf16 = c.level == Kernel::Avx512 && __builtin_cpu_supports("avx512bf16");
#endif
  return c;
}

KernelChoice& choice() {
  static KernelChoice c = detect();  // CPU features do not change while running
  return c;
}

}  // namespace

const KernelChoice& kernel_choice() { return choice(); }

void cap_kernel_choice(Kernel at_most) {
  KernelChoice& c = choice();
  if (int(at_most) < int(c.level)) c.level = at_most;
  if (c.level != Kernel::Avx512) c.bf16 = false;
}

}  // namespace mlxcpp::cpu
