#include "backend/cpu/int8_matmul.h"
#include "backend/cpu/code_order.h"
#include "backend/cpu/int8_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "model/weight_matrix.h"
#include "runtime/thread_pool.h"


namespace mlxcpp::cpu {

#if defined(__x86_64__)
namespace {

enum class Kernel { None, Avx2, Vnni };

// The best kernel this CPU runs, or a lesser one named by MLXCPP_CPU_KERNEL ("avx2",
// "none"): how the AVX2 kernels are tested on AVX-512 machines, and a way to rule a
// kernel out when results look wrong.
Kernel detect() {
  __builtin_cpu_init();
  Kernel best = Kernel::None;
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
    best = Kernel::Vnni;
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    best = Kernel::Avx2;
  const char* cap = std::getenv("MLXCPP_CPU_KERNEL");
  if (cap && std::string_view(cap) == "avx2" && best == Kernel::Vnni) return Kernel::Avx2;
  if (cap && std::string_view(cap) == "none") return Kernel::None;
  return best;
}

Kernel kernel() {
  static const Kernel k = detect();  // CPU features do not change while running
  return k;
}

// Rounds to the nearest integer, ties to even, for |v| < 2^22 (the codes here are far
// smaller): inline, where std::lrint is a library call.
inline float round_code(float v) { return (v + 12582912.0f) - 12582912.0f; }

// Activations in the kernels' layout (int8_kernels.h): per input row and weight group,
// d = max|x|/127, q1 = round(x/d) and the rounding residual again in 256ths of d, so
// x = d·(q1 + q2/256) within d/256 (~15 bits, as accurate as int16 at int8 speed). 4-bit
// weights permute each run of 128 columns (even elements first) as their nibbles unpack.
struct QInput {
  std::vector<int8_t> q1, q2;       // [n][cols]
  std::vector<float> scale, gsum;   // [n][cols/group]: d/256 and Σx
};

QInput quantize_input(const float* x, int64_t n, int64_t cols, int64_t group, bool nibble_order) {
  QInput in;
  const int64_t groups = cols / group;
  in.q1.resize(size_t(n * cols));
  in.q2.resize(size_t(n * cols));
  in.scale.resize(size_t(n * groups));
  in.gsum.resize(size_t(n * groups));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      const float* xg = x + i * cols + g * group;
      float amax = 0, sum = 0;
      for (int64_t k = 0; k < group; ++k) {
        amax = std::max(amax, std::abs(xg[k]));
        sum += xg[k];
      }
      const float d = amax / 127.0f, inv = d > 0 ? 1.0f / d : 0.0f;
      in.scale[size_t(i * groups + g)] = d / 256.0f;
      in.gsum[size_t(i * groups + g)] = sum;
      int8_t* q1 = &in.q1[size_t(i * cols)];
      int8_t* q2 = &in.q2[size_t(i * cols)];
      for (int64_t k = 0; k < group; ++k) {
        const float c1 = round_code(xg[k] * inv);
        const float c2 = round_code((xg[k] - d * c1) * 256.0f * inv);  // |residual| <= d/2
        const int64_t e = g * group + k, at = nibble_order ? run_order_position(e) : e;
        q1[at] = int8_t(c1);
        q2[at] = int8_t(std::clamp(c2, -127.0f, 127.0f));
      }
    }
  return in;
}

int stored_kind(DType t) { return t == DType::F32 ? kStoredF32 : t == DType::BF16 ? kStoredBF16 : kStoredF16; }

}  // namespace

bool int8_matmul_supported(const WeightMatrix& w) {
  return kernel() != Kernel::None && w.quant && w.quant->mode == QuantMode::Affine &&
         (w.quant->bits == 4 || w.quant->bits == 8) && (w.quant->group_size == 64 || w.quant->group_size == 128) &&
         (w.quant->bits == 8 || w.cols % kRunColumns4 == 0) && w.cols / w.quant->group_size <= kMaxGroups &&
         (w.dtype == DType::F32 || w.dtype == DType::BF16 || w.dtype == DType::F16);
}

const char* int8_kernel_name() {
  switch (kernel()) {
    case Kernel::Vnni: return "avx512vnni";
    case Kernel::Avx2: return "avx2";
    default: return "none";
  }
}

void int8_matmul(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  const QInput in = quantize_input(x, n, w.cols, w.quant->group_size, w.quant->bits == 4);
  const int bits = w.quant->bits;
  auto* run = kernel() == Kernel::Vnni ? (bits == 4 ? vnni::rows4 : vnni::rows8) : (bits == 4 ? avx2::rows4 : avx2::rows8);
  const Int8Rows a{w.data, size_t(w.cols) * size_t(bits) / 8, w.cols, w.quant->group_size, n, in.q1.data(), in.q2.data(),
                   in.scale.data(), in.gsum.data(), w.scales, w.biases, stored_kind(w.dtype),
                   w.bias.empty() ? nullptr : w.bias.data(), y, w.rows};
  pool.parallel_for(w.rows, [&](int64_t r0, int64_t r1) { run(a, r0, r1); });
}

#else  // not x86-64: the float SIMD path serves instead

bool int8_matmul_supported(const WeightMatrix&) { return false; }
const char* int8_kernel_name() { return "none"; }
void int8_matmul(const WeightMatrix&, const float*, int64_t, float*, ThreadPool&) {}

#endif

}  // namespace mlxcpp::cpu
