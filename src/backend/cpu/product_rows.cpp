#include "backend/cpu/product_rows.h"

#include <algorithm>
#include <vector>

#include "backend/cpu/matmul.h"
#include "util/thread_pool.h"

namespace mlxcpp::cpu {

void parallel_product_rows(std::span<const Product> products, int64_t tile_rows, ThreadPool& pool,
                           FunctionRef<void(size_t, int64_t, int64_t)> fn) {
  // products[m] covers rows [begin[m], begin[m + 1]): the caller's, kept from call to call,
  // reached by the workers through the reference.
  thread_local std::vector<int64_t> kept;
  std::vector<int64_t>& begin = kept;
  begin.assign(1, 0);
  for (const Product& p : products) begin.push_back(begin.back() + p.w->rows);
  const int64_t total = begin.back();
  pool.parallel_for((total + tile_rows - 1) / tile_rows, [&](int64_t b0, int64_t b1) {
    const int64_t r0 = b0 * tile_rows, r1 = std::min(b1 * tile_rows, total);
    for (size_t m = 0; m < products.size(); ++m) {
      const int64_t b = std::max(r0, begin[m]), e = std::min(r1, begin[m + 1]);
      if (b < e) fn(m, b - begin[m], e - begin[m]);
    }
  });
}

}  // namespace mlxcpp::cpu
