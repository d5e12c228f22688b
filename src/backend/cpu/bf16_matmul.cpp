#include "backend/cpu/bf16_matmul.h"

#include <algorithm>
#include <vector>

#include "backend/cpu/bf16_kernels.h"
#include "backend/cpu/kernel_choice.h"
#include "model/weight_matrix.h"
#include "runtime/thread_pool.h"

namespace mlxcpp::cpu {

#if defined(__x86_64__)

bool bf16_matmul_supported(std::span<const Product> products) {
  if (!kernel_choice().bf16 || products.empty()) return false;
  for (const Product& p : products)
    if (p.w->quant || p.w->dtype != DType::BF16 || p.w->cols % 32 != 0 || p.w->cols != products[0].w->cols) return false;
  return true;
}

void bf16_matmul(std::span<const Product> products, const float* x, int64_t n, ThreadPool& pool) {
  const int64_t cols = products[0].w->cols;
  std::vector<uint16_t> xb(size_t(n * cols));
  avx512bf16::round_to_bf16(x, n * cols, xb.data());
  // The matrices' rows laid end to end, taken by threads in blocks of the tile height.
  std::vector<Bf16Rows> parts;
  std::vector<int64_t> begin{0};
  for (const Product& p : products) {
    const WeightMatrix& w = *p.w;
    parts.push_back({reinterpret_cast<const uint16_t*>(w.data), cols, n, xb.data(), w.bias.empty() ? nullptr : w.bias.data(),
                     p.y, w.rows});
    begin.push_back(begin.back() + w.rows);
  }
  constexpr int64_t kRowBlock = 4;
  pool.parallel_for((begin.back() + kRowBlock - 1) / kRowBlock, [&](int64_t b0, int64_t b1) {
    const int64_t r0 = b0 * kRowBlock, r1 = std::min(b1 * kRowBlock, begin.back());
    for (size_t m = 0; m < parts.size(); ++m) {
      const int64_t b = std::max(r0, begin[m]), e = std::min(r1, begin[m + 1]);
      if (b < e) avx512bf16::rows(parts[m], b - begin[m], e - begin[m]);
    }
  });
}

#else  // not x86-64: the float kernels serve instead

bool bf16_matmul_supported(std::span<const Product>) { return false; }
void bf16_matmul(std::span<const Product>, const float*, int64_t, ThreadPool&) {}

#endif

}  // namespace mlxcpp::cpu
