#include "backend/cpu/kernel_choice.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif


namespace mlxcpp::cpu {
namespace {

#if defined(__x86_64__)
// AMX-TILE and AMX-INT8 (CPUID leaf 7, EDX bits 24 and 25), and Linux's grant of the tile
// data state to this process (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): without
// it the first tile instruction faults.
bool amx_usable() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 25))) return false;
  constexpr long kReqXcompPerm = 0x1023, kXtiledata = 18;
  return syscall(SYS_arch_prctl, kReqXcompPerm, kXtiledata) == 0;
}
#endif

KernelChoice detect() {
  KernelChoice c;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
    c.level = Kernel::Avx512;
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    c.level = Kernel::Avx2;
  c.bf16 = c.level == Kernel::Avx512 && __builtin_cpu_supports("avx512bf16");
  c.amx = c.level == Kernel::Avx512 && amx_usable();
#endif
  return c;
}

KernelChoice& choice() {
  static KernelChoice c = detect();  // CPU features do not change while running
  return c;
}

}  // namespace

const KernelChoice& kernel_choice() { return choice(); }

void cap_kernel_choice(Kernel at_most, bool amx) {
  KernelChoice& c = choice();
  if (int(at_most) < int(c.level)) c.level = at_most;
  if (!amx) c.amx = false;
  if (c.level != Kernel::Avx512) c.bf16 = c.amx = false;
}

}  // namespace mlxcpp::cpu
