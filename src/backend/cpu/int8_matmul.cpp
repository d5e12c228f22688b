#include "backend/cpu/int8_matmul.h"
#include "backend/cpu/code_order.h"
#include "backend/cpu/int8_kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/weight_matrix.h"
#include "runtime/thread_pool.h"


namespace mlxcpp::cpu {

#if defined(__x86_64__)
namespace {

enum class Kernel { None, Avx2, Vnni };

Kernel detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
    return Kernel::Vnni;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Kernel::Avx2;
  return Kernel::None;
}

Kernel kernel() {
  static const Kernel k = detect();  // CPU features do not change while running
  return k;
}

// Activations per input row: int8 blocks of 32 in the weights' element order (for 4-bit:
// the 16 even elements then the 16 odd ones), their scales, and exact per-group sums.
// For one row (decode) the rounding residual x - scale*q is quantized again (scale2 =
// scale/127 per block): two int8 dot products give ~14-bit activations at no cost in
// memory traffic. Several rows (prefill, compute-bound) are quantized once to int16
// (~15 bits), whose 16-bit dot products need one int32 sum per block instead of two.
struct QInput {
  std::vector<int8_t> q, q2;         // decode: [cols] each
  std::vector<int16_t> q16;          // prefill: [n][cols]
  std::vector<float> scale, scale2;  // [n][cols/32]
  std::vector<float> gsum;           // [n][cols/group]
};

QInput quantize_input(const float* x, int64_t n, int64_t cols, int64_t group, bool nibble_order) {
  QInput in;
  const bool decode = n == 1;
  in.q.resize(decode ? size_t(cols) : 0);
  in.q2.resize(decode ? size_t(cols) : 0);
  in.q16.resize(decode ? 0 : size_t(n * cols));
  in.scale.resize(size_t(n * cols / 32));
  in.scale2.resize(decode ? size_t(cols / 32) : 0);
  in.gsum.assign(size_t(n * cols / group), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * cols;
    for (int64_t b = 0; b < cols; b += 32) {
      float amax = 0;
      for (int k = 0; k < 32; ++k) amax = std::max(amax, std::abs(xi[b + k]));
      if (!decode) {
        const float d = amax / 32767.0f;
        const float inv = d > 0 ? 1.0f / d : 0.0f;
        in.scale[size_t((i * cols + b) / 32)] = d;
        int16_t* out = &in.q16[size_t(i * cols + b)];
        for (int k = 0; k < 32; ++k) out[k] = int16_t(std::lrint(xi[b + (nibble_order ? nibble_order_source(k) : k)] * inv));
        continue;
      }
      const float d = amax / 127.0f;
      const float inv = d > 0 ? 1.0f / d : 0.0f;
      in.scale[size_t(b / 32)] = d;
      int8_t* out = &in.q[size_t(b)];
      for (int k = 0; k < 32; ++k) out[k] = int8_t(std::lrint(xi[b + (nibble_order ? nibble_order_source(k) : k)] * inv));
      const float d2 = d / 127.0f;
      const float inv2 = d2 > 0 ? 1.0f / d2 : 0.0f;
      in.scale2[size_t(b / 32)] = d2;
      int8_t* out2 = &in.q2[size_t(b)];
      for (int k = 0; k < 32; ++k) {
        const float r = xi[b + (nibble_order ? nibble_order_source(k) : k)] - d * float(out[k]);  // |r| <= d/2
        out2[k] = int8_t(std::clamp(std::lrint(r * inv2), -127L, 127L));
      }
    }
    for (int64_t c = 0; c < cols; ++c) in.gsum[size_t(i * (cols / group) + c / group)] += xi[c];
  }
  return in;
}

int stored_kind(DType t) { return t == DType::F32 ? kStoredF32 : t == DType::BF16 ? kStoredBF16 : kStoredF16; }

}  // namespace

bool int8_matmul_supported(const WeightMatrix& w) {
  return kernel() != Kernel::None && w.quant && w.quant->mode == QuantMode::Affine &&
         (w.quant->bits == 4 || w.quant->bits == 8) && w.cols % 32 == 0 &&
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
  const int64_t group = w.quant->group_size, groups = w.cols / group;
  const QInput in = quantize_input(x, n, w.cols, group, w.quant->bits == 4);
  const Kernel k = kernel();
  const int bits = w.quant->bits;
  auto* run = k == Kernel::Vnni ? (bits == 4 ? vnni::rows4 : vnni::rows8) : (bits == 4 ? avx2::rows4 : avx2::rows8);
  pool.parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
    Int8Rows a{w.data, size_t(w.cols) * size_t(bits) / 8, w.cols, group, n, in.q.data(), in.q2.data(), in.q16.data(),
               in.scale.data(), in.scale2.data(), in.gsum.data(), nullptr, nullptr, w.scales, w.biases,
               stored_kind(w.dtype), w.bias.empty() ? nullptr : w.bias.data(), y, w.rows};
    if (n == 1) return run(a, r0, r1);
    // Prefill: rows go to the kernel in blocks whose group scales and biases are widened
    // to f32 here (a block's worth stays in cache while every input tile passes over it).
    constexpr int64_t kRowBlock = 64;
    std::vector<float> scales(size_t(kRowBlock * groups)), biases(scales.size());
    a.scales = scales.data();
    a.biases = biases.data();
    for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
      const int64_t re = std::min(r1, rb + kRowBlock);
      for (size_t i = 0; i < size_t((re - rb) * groups); ++i) {
        scales[i] = read_f32(w.dtype, w.scales, size_t(rb * groups) + i);
        biases[i] = read_f32(w.dtype, w.biases, size_t(rb * groups) + i);
      }
      run(a, rb, re);
    }
  });
}

#else  // not x86-64: the float SIMD path serves instead

bool int8_matmul_supported(const WeightMatrix&) { return false; }
const char* int8_kernel_name() { return "none"; }
void int8_matmul(const WeightMatrix&, const float*, int64_t, float*, ThreadPool&) {}

#endif

}  // namespace mlxcpp::cpu
