// The CPU's fast product alone: a 4-bit g64 matrix (bf16 scales) in the order the CPU
// backend holds it, times n inputs, timed over many calls on the given threads. Prints
// the time per call, the weight bytes streamed per second and the multiply-adds per
// second, so that a kernel change can be seen apart from the rest of a decode step.
//   [MLXCPP_CPU_KERNEL=avx512|avx2] int8_product [ROWS COLS N THREADS BITS]   (defaults 8192 2048 4 2 4)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "backend/cpu/int8_matmul.h"
#include "backend/cpu/matmul.h"
#include "quant/quantize_tensor.h"
#include "runtime/tuning.h"
#include "util/cache_line_vector.h"
#include "util/thread_pool.h"

int main(int argc, char** argv) {
  using namespace mlxcpp;
  apply_tuning(tuning_from_environment());  // MLXCPP_CPU_KERNEL=avx512: without AMX
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 8192, cols = argc > 2 ? std::atoll(argv[2]) : 2048;
  const int64_t n = argc > 3 ? std::atoll(argv[3]) : 4;
  const int threads = argc > 4 ? std::atoi(argv[4]) : 2, bits = argc > 5 ? std::atoi(argv[5]) : 4;
  const QuantSpec spec{QuantMode::Affine, bits, 64};
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(size_t(rows * cols)), x(size_t(n * cols)), y(size_t(n * rows));
  for (auto& v : w) v = 0.05f * nd(rng);
  for (auto& v : x) v = nd(rng);
  std::vector<uint8_t> packed(size_t(rows * cols * bits / 8)), scales(size_t(rows * cols / 64) * 2), biases(scales.size());
  quantize_matrix(w.data(), size_t(rows), size_t(cols), spec, DType::BF16, packed.data(), scales.data(), biases.data());
  WeightMatrix m;
  m.name = "bench";
  m.rows = rows, m.cols = cols, m.quant = spec, m.dtype = DType::BF16;
  m.scales = scales.data(), m.biases = biases.data();
  CacheLineVector<uint8_t> ordered(packed.size());  // as the CPU backend holds them: lines aligned
  m.order = cpu::int8_code_order(m);
  for (int64_t r = 0; r < rows; ++r)
    reorder_codes(m, &packed[size_t(r) * m.row_bytes()], CodeOrder::Mlx, m.order, &ordered[size_t(r) * m.row_bytes()]);
  m.data = ordered.data();
  ThreadPool pool(threads);
  const int calls = int(std::max<int64_t>(20, int64_t(4e9) / (rows * cols * std::max<int64_t>(n, 4))));
  for (int i = 0; i < 3; ++i) cpu::matmul(m, x.data(), n, y.data(), pool, Precision::Fast);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) cpu::matmul(m, x.data(), n, y.data(), pool, Precision::Fast);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / calls;
  std::printf("%s rows %lld cols %lld n %lld threads %d bits %d: %.1f us/call, %.1f GB/s of weights, %.1f GMAC/s\n",
              cpu::int8_kernel_name(), (long long)rows, (long long)cols, (long long)n, threads, bits, s * 1e6,
              double(m.bytes()) / s / 1e9, double(rows * cols * n) / s / 1e9);
}
