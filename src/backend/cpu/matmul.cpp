#include "backend/cpu/matmul.h"

#include <algorithm>
#include <vector>

#include "backend/cpu/bf16_matmul.h"
#include "backend/cpu/fast_matmul.h"
#include "backend/cpu/int8_matmul.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace mlxcpp {
namespace cpu {

void matmul_shared_input(std::span<const Product> products, const float* x, int64_t n, ThreadPool& pool,
                         Precision precision) {
  if (precision == Precision::Fast && cpu::int8_matmul_supported(products)) {
    cpu::int8_matmul(products, x, n, pool);
    return;
  }
  if (precision == Precision::Fast && cpu::bf16_matmul_supported(products)) {
    cpu::bf16_matmul(products, x, n, pool);
    return;
  }
  for (const Product& p : products) matmul(*p.w, x, n, p.y, pool, precision);
}

void matmul_each_input(std::span<const Product> products, std::span<const float* const> x, int64_t n, ThreadPool& pool,
                       Precision precision) {
  if (precision == Precision::Fast && cpu::int8_matmul_each_supported(products)) {
    cpu::int8_matmul_each(products, x, n, pool);
    return;
  }
  for (size_t m = 0; m < products.size(); ++m) matmul(*products[m].w, x[m], n, products[m].y, pool, precision);
}

void matmul(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool, Precision precision) {
  const Product self{&w, y};
  if (precision == Precision::Fast && cpu::int8_matmul_supported({&self, 1})) {
    cpu::int8_matmul({&self, 1}, x, n, pool);
    return;
  }
  // Of the fast kernels only the int8 ones read codes in another order than the file's
  // (the exact path below dequantizes any order).
  if (precision == Precision::Fast && w.order != CodeOrder::Mlx)
    fail("{}: no fast kernel on this CPU takes its codes' order", w.name);
  if (precision == Precision::Fast && cpu::bf16_matmul_supported({&self, 1})) {
    cpu::bf16_matmul({&self, 1}, x, n, pool);
    return;
  }
  if (precision == Precision::Fast && w.cols % 32 == 0) {
    cpu::fast_matmul(w, x, n, y, pool);
    return;
  }
  // Each thread's dequantized row, sized here by the caller (kept from call to call), so
  // that no call allocates once the widest matrix has been seen, whichever thread takes
  // which rows.
  thread_local std::vector<std::vector<float>> kept;
  std::vector<std::vector<float>>& rows = kept;
  if (rows.size() < size_t(pool.size())) rows.resize(size_t(pool.size()));
  for (auto& r : rows)
    if (r.size() < size_t(w.cols)) r.resize(size_t(w.cols));
  pool.parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
    std::vector<float>& row = rows[size_t(ThreadPool::thread_index())];
    for (int64_t r = r0; r < r1; ++r) {
      w.dequantize_row(r, row.data());
      for (int64_t i = 0; i < n; ++i) {
        const float* xi = x + i * w.cols;
        // Eight partial sums: deterministic, and close to a pairwise sum in accuracy.
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t k = 0;
        for (; k + 8 <= w.cols; k += 8)
          for (int j = 0; j < 8; ++j) acc[j] += row[size_t(k + j)] * xi[k + j];
        for (; k < w.cols; ++k) acc[0] += row[size_t(k)] * xi[k];
        float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        if (w.bias) sum += w.bias[size_t(r)];
        y[i * w.rows + r] = sum;
      }
    }
  });
}

}  // namespace cpu
}  // namespace mlxcpp
