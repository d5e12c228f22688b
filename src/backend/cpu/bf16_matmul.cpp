#include "backend/cpu/bf16_matmul.h"

#include <algorithm>
#include <vector>

#include "backend/cpu/bf16_kernels.h"
#include "backend/cpu/kernel_choice.h"
#include "backend/cpu/product_rows.h"
#include "backend/cpu/matmul.h"
#include "util/thread_pool.h"

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
  // The caller's buffers, kept from call to call (no allocation once grown); the workers
  // reach them through these references (a thread_local named inside the lambda would be
  // each worker's own).
  thread_local std::vector<uint16_t> kept_xb;
  thread_local std::vector<Bf16Rows> kept_parts;
  std::vector<uint16_t>& xb = kept_xb;
  std::vector<Bf16Rows>& parts = kept_parts;
  if (xb.size() < size_t(n * cols)) xb.resize(size_t(n * cols));
  avx512bf16::round_to_bf16(x, n * cols, xb.data());
  parts.clear();
  for (const Product& p : products) {
    const WeightMatrix& w = *p.w;
    parts.push_back({reinterpret_cast<const uint16_t*>(w.data), cols, n, xb.data(), w.bias,
                     p.y, w.rows});
  }
  parallel_product_rows(products, /*tile_rows=*/4, pool,
                        [&](size_t m, int64_t r0, int64_t r1) { avx512bf16::rows(parts[m], r0, r1); });
}

#else  // not x86-64: the float kernels serve instead

bool bf16_matmul_supported(std::span<const Product>) { return false; }
void bf16_matmul(std::span<const Product>, const float*, int64_t, ThreadPool&) {}

#endif

}  // namespace mlxcpp::cpu
