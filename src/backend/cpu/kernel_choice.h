// Which instruction-set kernels this CPU runs (x86-64): detected once, and capped by the
// front end (runtime/tuning.h: MLXCPP_CPU_KERNEL "avx512": no AMX; "avx2": no AVX-512
// kernels; "none": no intrinsic kernels, the vector-extension float path for everything).
// The cap is how the lesser kernels are tested on AVX-512 machines, and a way to rule a
// kernel out when results look wrong.
#pragma once

namespace mlxcpp::cpu {

enum class Kernel { None, Avx2, Avx512 };

struct KernelChoice {
  Kernel level = Kernel::None;  // Avx512: AVX-512 F/BW/VL with VNNI
  bool bf16 = false;            // Avx512 and AVX512_BF16 (vdpbf16ps)
  bool amx = false;             // Avx512 and AMX-INT8, the OS having granted the tile state
};

const KernelChoice& kernel_choice();
// Caps the choice for the whole process (before any model runs).
void cap_kernel_choice(Kernel at_most, bool amx = true);

}  // namespace mlxcpp::cpu
