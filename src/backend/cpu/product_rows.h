// The rows of several products' weight matrices laid end to end (q, k and v; gate and up),
// shared by the pool's threads in one parallel loop, in blocks of the kernels' tile height
// so that no thread's share leaves a few rows to the slower one-row tiles (only a matrix's
// last rows can).
#pragma once

#include <cstdint>
#include <span>

#include "util/function_ref.h"

namespace mlxcpp {

struct Product;
class ThreadPool;

namespace cpu {

// fn(m, r0, r1): rows [r0, r1) of products[m].
void parallel_product_rows(std::span<const Product> products, int64_t tile_rows, ThreadPool& pool,
                           FunctionRef<void(size_t, int64_t, int64_t)> fn);

}  // namespace cpu
}  // namespace mlxcpp
