#include "backend/cpu/int8_matmul.h"
#include "backend/cpu/int8_kernels.h"
#include "backend/cpu/kernel_choice.h"
#include "backend/cpu/product_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/matmul.h"
#include "util/cache_line_vector.h"
#include "util/thread_pool.h"


namespace mlxcpp::cpu {

#if defined(__x86_64__)
namespace {

Kernel kernel() { return kernel_choice().level; }

// Activations in the kernels' layout (int8_kernels.h): per input row and weight group,
// d = max|x|/127 and q = round(x/d), as llama.cpp's Q8_0 activations (there per 32).
// Perplexity of the bundled 4-bit model: 936.0 against 937.9 on the f32 path (tests/e2e
// allows 1 %). A second code for the rounding residual (~15 bits) measured the same
// perplexity at half the speed of prompt processing, which is bound by these dot products.
// Every row is coded the same whatever the batch, so results do not depend on it. 4-bit
// weights permute each run of 128 columns (even elements first) as their nibbles unpack.
struct QInput {
  CacheLineVector<int8_t> q;           // [n][cols]
  CacheLineVector<float> scale, gsum;  // [n][cols/group]: d and Σ of the coded x
  // The same for the AMX kernels (Int8Rows::tiles), when they run.
  CacheLineVector<int8_t> tiles;
  CacheLineVector<float> tile_xs, tile_gsum;
};

// One input row set in the kernels' layout; `into` is kept by the caller from call to call
// (no allocation once it has grown to the largest input).
void quantize_input(const float* x, int64_t n, int64_t cols, int64_t group, int bits, bool vnni_order, ThreadPool& pool,
                    QInput& into) {
  QInput& in = into;  // the workers below reach the caller's through this reference
  const int64_t groups = cols / group;
  in.q.resize(size_t(n * cols));
  in.scale.resize(size_t(n * groups));
  in.gsum.resize(size_t(n * groups));
  auto* quantize = vnni_order ? vnni::quantize : avx2::quantize;
  auto rows = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      quantize(x + i * cols, cols, group, bits, &in.q[size_t(i * cols)], &in.scale[size_t(i * groups)],
               &in.gsum[size_t(i * groups)]);
  };
  if (n == 1) rows(0, 1);  // decode: not worth waking the pool
  else pool.parallel_for(n, rows);
}

// The coded input (group-lane order) as the AMX kernels' tiles: 16 inputs a tile, the
// last one padded with zeros.
void pack_tiles(int64_t n, int64_t cols, int64_t group, ThreadPool& pool, QInput& into) {
  QInput& in = into;
  const int64_t groups = cols / group, tiles = (n + kAmxTile - 1) / kAmxTile, dwords = group / 4;
  in.tiles.assign(size_t(tiles * groups * kAmxTile * group), 0);
  in.tile_xs.assign(size_t(tiles * groups * kAmxTile), 0.0f);
  in.tile_gsum.assign(in.tile_xs.size(), 0.0f);
  pool.parallel_for(tiles, [&](int64_t b, int64_t e) {
    for (int64_t tile = b; tile < e; ++tile)
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t g0 = g / kGroupLaneBlock * kGroupLaneBlock, at = tile * groups + g;
        const int64_t step = 4 * std::min(kGroupLaneBlock, groups - g0);  // bytes of a group-lane step
        for (int64_t t = 0; t < kAmxTile && tile * kAmxTile + t < n; ++t) {
          const int64_t c = tile * kAmxTile + t;
          const int8_t* src = &in.q[size_t(c * cols + g0 * group + 4 * (g - g0))];
          int8_t* dst = &in.tiles[size_t(at * kAmxTile * group + 4 * t)];
          for (int64_t j = 0; j < dwords; ++j) std::memcpy(dst + 64 * j, src + j * step, 4);
          in.tile_xs[size_t(at * kAmxTile + t)] = in.scale[size_t(c * groups + g)];
          in.tile_gsum[size_t(at * kAmxTile + t)] = in.gsum[size_t(c * groups + g)];
        }
      }
  });
}

int stored_kind(DType t) { return t == DType::F32 ? kStoredF32 : t == DType::BF16 ? kStoredBF16 : kStoredF16; }

// The formats the int8 kernels take.
bool int8_format(const WeightMatrix& w) {
  return w.quant && w.quant->mode == QuantMode::Affine && (w.quant->bits == 4 || w.quant->bits == 8) &&
         (w.quant->group_size == 64 || w.quant->group_size == 128) && w.cols / w.quant->group_size <= kMaxGroups &&
         (w.dtype == DType::F32 || w.dtype == DType::BF16 || w.dtype == DType::F16);
}

// Which kernels run w on this CPU: the VNNI ones take rows in group-lane order, the AVX2
// ones rows in the file's order (4-bit: whole runs of 128 columns).
Kernel kernels_for(const WeightMatrix& w) {
  if (kernel() == Kernel::None || !int8_format(w)) return Kernel::None;
  if (w.order == CodeOrder::GroupLanes) return kernel() == Kernel::Avx512 ? Kernel::Avx512 : Kernel::None;
  return w.quant->bits == 8 || w.cols % kRunColumns4 == 0 ? Kernel::Avx2 : Kernel::None;
}

}  // namespace

CodeOrder int8_code_order(const WeightMatrix& w) {
  return kernel() == Kernel::Avx512 && int8_format(w) ? CodeOrder::GroupLanes : CodeOrder::Mlx;
}

bool int8_matmul_supported(std::span<const Product> products) {
  if (products.empty()) return false;
  const WeightMatrix& first = *products[0].w;
  const Kernel kernels = kernels_for(first);
  if (kernels == Kernel::None) return false;
  for (const Product& p : products)
    if (kernels_for(*p.w) != kernels || p.w->cols != first.cols || p.w->quant->bits != first.quant->bits ||
        p.w->quant->group_size != first.quant->group_size)
      return false;
  return true;
}

const char* int8_kernel_name() {
  switch (kernel()) {
    case Kernel::Avx512: return kernel_choice().amx ? "avx512vnni, amx" : "avx512vnni";
    case Kernel::Avx2: return "avx2";
    default: return "none";
  }
}

bool int8_matmul_each_supported(std::span<const Product> products) {
  for (const Product& p : products)
    if (kernels_for(*p.w) == Kernel::None) return false;
  return !products.empty();
}

void int8_matmul_each(std::span<const Product> products, std::span<const float* const> x, int64_t n, ThreadPool& pool) {
  // Each distinct input quantized once for its format (products sharing an input share its
  // codes); the buffers and the list are the caller's, kept from call to call, and the
  // workers reach them through these references (a thread_local named inside the lambda
  // would be each worker's own).
  thread_local std::vector<QInput> kept_inputs;
  thread_local std::vector<Int8Rows> kept_parts;
  thread_local std::vector<void (*)(const Int8Rows&, int64_t, int64_t)> kept_runs;
  std::vector<QInput>& inputs = kept_inputs;
  std::vector<Int8Rows>& parts = kept_parts;
  auto& runs = kept_runs;
  parts.clear();
  runs.clear();
  struct Coded {
    const float* x;
    int64_t cols, group;
    int bits;
    bool vnni;
    bool tiles = false;  // packed for the AMX kernels
  };
  thread_local std::vector<Coded> kept_coded;
  std::vector<Coded>& coded = kept_coded;
  coded.clear();
  bool any_amx = false;
  for (size_t m = 0; m < products.size(); ++m) {
    const WeightMatrix& w = *products[m].w;
    const int bits = w.quant->bits;
    const bool vnni = kernels_for(w) == Kernel::Avx512;
    const bool amx = vnni && n >= kMinAmxInputs && kernel_choice().amx;
    const Coded want{x[m], w.cols, w.quant->group_size, bits, vnni};
    size_t k = 0;
    while (k < coded.size() && !(coded[k].x == want.x && coded[k].cols == want.cols && coded[k].group == want.group &&
                                 coded[k].bits == want.bits && coded[k].vnni == want.vnni))
      ++k;
    if (k == coded.size()) {
      coded.push_back(want);
      if (inputs.size() < coded.size()) inputs.resize(coded.size());
      quantize_input(want.x, n, want.cols, want.group, bits, vnni, pool, inputs[k]);
    }
    if (amx && !coded[k].tiles) {
      pack_tiles(n, want.cols, want.group, pool, inputs[k]);
      coded[k].tiles = true;
    }
    const QInput& in = inputs[k];
    parts.push_back({w.data, w.row_bytes(), w.cols, w.quant->group_size, n, in.q.data(), in.scale.data(),
                     in.gsum.data(), w.scales, w.biases, stored_kind(w.dtype), w.bias, products[m].y, w.rows});
    if (amx) {
      parts.back().tiles = in.tiles.data();
      parts.back().tile_xs = in.tile_xs.data();
      parts.back().tile_gsum = in.tile_gsum.data();
    }
    any_amx = any_amx || amx;
    runs.push_back(amx    ? (bits == 4 ? amx::rows4 : amx::rows8)
                   : vnni ? (bits == 4 ? vnni::rows4 : vnni::rows8)
                          : (bits == 4 ? avx2::rows4 : avx2::rows8));
  }
  parallel_product_rows(products, /*tile_rows=*/any_amx ? 16 : 4, pool,
                        [&](size_t m, int64_t r0, int64_t r1) { runs[m](parts[m], r0, r1); });
}

void int8_matmul(std::span<const Product> products, const float* x, int64_t n, ThreadPool& pool) {
  thread_local std::vector<const float*> kept;
  std::vector<const float*>& inputs = kept;
  inputs.assign(products.size(), x);
  int8_matmul_each(products, inputs, n, pool);
}

#else  // not x86-64: the float SIMD path serves instead

CodeOrder int8_code_order(const WeightMatrix&) { return CodeOrder::Mlx; }
bool int8_matmul_supported(std::span<const Product>) { return false; }
const char* int8_kernel_name() { return "none"; }
void int8_matmul(std::span<const Product>, const float*, int64_t, ThreadPool&) {}
bool int8_matmul_each_supported(std::span<const Product>) { return false; }
void int8_matmul_each(std::span<const Product>, std::span<const float* const>, int64_t, ThreadPool&) {}

#endif

}  // namespace mlxcpp::cpu
