#include "backend/cpu/fast_matmul.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "backend/cpu/code_order.h"
#include "backend/cpu/simd_clones.h"
#include "backend/cpu/vec16.h"
#include "backend/cpu/matmul.h"
#include "quant/bit_packing.h"
#include "quant/fp_formats.h"
#include "util/thread_pool.h"
#include "util/float_bits.h"

namespace mlxcpp::cpu {
namespace {

typedef float v8f __attribute__((vector_size(32)));

// Columns are processed in blocks of kBlock (a multiple of 8 that divides every group
// size); float weights use the same block size with scale 1 and bias 0.
constexpr int64_t kBlock = 32;

// The activations rearranged to match the order in which weight codes are unpacked, plus
// per-group sums for the affine bias term.
struct Prepared {
  int64_t n = 0, cols = 0, group = 0;
  std::vector<float> x;     // [n][cols] in unpack order
  std::vector<float> gsum;  // [n][cols/group]
};

// 4-bit codes are unpacked as (low nibbles, high nibbles) of each 16-byte run, which is
// (even, odd) elements of each 32-column block: permute x the same way once per call.
bool nibble_order(const WeightMatrix& w) { return w.quant && w.quant->bits == 4 && w.quant->mode == QuantMode::Affine; }

// Into the calling thread's buffers, kept from call to call.
const Prepared& prepare(const WeightMatrix& w, const float* x, int64_t n) {
  thread_local Prepared p;
  p.n = n;
  p.cols = w.cols;
  p.group = w.quant ? w.quant->group_size : kBlock;
  p.x.resize(size_t(n * w.cols));
  p.gsum.assign(size_t(n * (w.cols / p.group)), 0.0f);
  const bool perm = nibble_order(w);
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * w.cols;
    float* out = &p.x[size_t(i * w.cols)];
    for (int64_t b = 0; b < w.cols; b += kBlock)
      for (int64_t k = 0; k < kBlock; ++k) {
        const int64_t src = b + (perm ? nibble_order_source(k) : k);
        out[b + k] = xi[src];
      }
    for (int64_t c = 0; c < w.cols; ++c) p.gsum[size_t(i * (w.cols / p.group) + c / p.group)] += xi[c];
  }
  return p;
}

// MXFP4 and MXFP8: one power-of-two scale per group of 32, applied to the group's dot
// product — the same bits as scaling each element, as a power of two scales exactly.
bool power_of_two_scales(const WeightMatrix& w) {
  return w.quant && (w.quant->mode == QuantMode::MxFp4 || w.quant->mode == QuantMode::MxFp8) &&
         w.quant->group_size == kBlock;
}

// Widens `count` codes (kBlock, or a whole nvfp4 group of 16) of row r starting at column
// c into q (unpack order).
inline void unpack_block(const WeightMatrix& w, int64_t r, int64_t c, float* q, int count = kBlock) {
  if (!w.quant) {  // f16 (bf16 and f32 widen in registers: widened_rows_kernel)
    convert_to_f32(w.dtype, w.data + size_t(r * w.cols + c) * dtype_size(w.dtype), q, size_t(kBlock));
    return;
  }
  const QuantSpec& s = *w.quant;
  const uint8_t* row = w.data + size_t(r) * size_t(w.cols) * size_t(s.bits) / 8;
  if (s.bits == 4 && s.mode == QuantMode::Affine) {
    const uint8_t* b = row + c / 2;
    for (int k = 0; k < kBlock / 2; ++k) {
      q[k] = float(b[k] & 0x0f);
      q[k + kBlock / 2] = float(b[k] >> 4);
    }
    return;
  }
  if (s.bits == 8 && s.mode == QuantMode::Affine) {
    const uint8_t* b = row + c;
    for (int k = 0; k < kBlock; ++k) q[k] = float(b[k]);
    return;
  }
  if (s.mode == QuantMode::Affine) {
    for (int k = 0; k < count; ++k) q[k] = float(unpack_bits(row, size_t(c + k), s.bits));
    return;
  }
  if (power_of_two_scales(w)) {  // the element values; rows_kernel applies the group's scale
    const uint8_t* b = row + c * s.bits / 8;
    if (s.bits == 4) {
      static const std::array<float, 16> fp4 = [] {
        std::array<float, 16> t{};
        for (int v = 0; v < 16; ++v) t[size_t(v)] = fp4_e2m1_to_f32(uint8_t(v));
        return t;
      }();
      for (int k = 0; k < kBlock / 2; ++k) {
        q[2 * k] = fp4[b[k] & 0x0f];
        q[2 * k + 1] = fp4[b[k] >> 4];
      }
    } else {
      static const std::array<float, 256> fp8 = [] {
        std::array<float, 256> t{};
        for (int v = 0; v < 256; ++v) t[size_t(v)] = fp8_e4m3_to_f32(uint8_t(v));
        return t;
      }();
      for (int k = 0; k < kBlock; ++k) q[k] = fp8[b[k]];
    }
    return;
  }
  // NVFP4: the element value times its E4M3 scale.
  const size_t groups = size_t(w.cols / s.group_size);
  for (int k = 0; k < count; ++k) {
    const uint8_t sc = w.scales[size_t(r) * groups + size_t((c + k) / s.group_size)];
    const float scale = s.mode == QuantMode::NvFp4 ? fp8_e4m3_to_f32(sc) : e8m0_to_f32(sc);
    const uint32_t code = unpack_bits(row, size_t(c + k), s.bits);
    q[k] = scale * (s.bits == 4 ? fp4_e2m1_to_f32(uint8_t(code)) : fp8_e4m3_to_f32(uint8_t(code)));
  }
}

MLXCPP_SIMD_CLONES
void rows_kernel(const WeightMatrix& w, const Prepared& p, std::vector<float>& acc, float* y, int64_t r0, int64_t r1) {
  const bool affine = w.quant && w.quant->mode == QuantMode::Affine, pow2 = power_of_two_scales(w);
  const int64_t group = p.group, groups = w.cols / group;
  alignas(64) float q[128];  // one group of codes (group sizes are at most 128)
  for (int64_t r = r0; r < r1; ++r) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t c = 0; c < group; c += kBlock) unpack_block(w, r, g * group + c, q + c, int(std::min(group, kBlock)));
      const float scale = affine ? read_f32(w.dtype, w.scales, size_t(r * groups + g))
                          : pow2 ? e8m0_to_f32(w.scales[size_t(r * groups + g)])
                                 : 1.0f;
      const float bias = affine ? read_f32(w.dtype, w.biases, size_t(r * groups + g)) : 0.0f;
      // Σ q·x over the group, for every input row, the codes widened once.
      for (int64_t i = 0; i < p.n; ++i) {
        const float* xi = &p.x[size_t(i * w.cols + g * group)];
        v8f a0 = {0, 0, 0, 0, 0, 0, 0, 0}, a1 = a0;
        for (int64_t k = 0; k < group; k += 16) {
          v8f qa, qb, xa, xb;
          std::memcpy(&qa, q + k, 32);
          std::memcpy(&qb, q + k + 8, 32);
          std::memcpy(&xa, xi + k, 32);
          std::memcpy(&xb, xi + k + 8, 32);
          a0 += qa * xa;
          a1 += qb * xb;
        }
        const v8f s = a0 + a1;
        const float dot = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
        acc[size_t(i)] += affine ? scale * dot + bias * p.gsum[size_t(i * groups + g)] : pow2 ? scale * dot : dot;
      }
    }
    for (int64_t i = 0; i < p.n; ++i) y[i * w.rows + r] = acc[size_t(i)] + (w.bias ? w.bias[size_t(r)] : 0.0f);
  }
}

// bf16 and f32 weights: widened 16 at a time in registers (bf16 is the top half of an f32)
// and dotted with the f32 activations as they are — the element-wise widening of the
// general kernel held bf16 decode to a third of the memory bandwidth. Tiles of 4 weight
// rows × 4 input rows keep 16 accumulators in registers, so each widened vector serves 4
// inputs and each input vector 4 rows (prefill); every (row, input) pair has its own
// accumulator, added to in the same order whatever the tile, so a row's result does not
// depend on the batch.
bool widens_in_registers(const WeightMatrix& w) {
  return !w.quant && (w.dtype == DType::BF16 || w.dtype == DType::F32) && w.cols % 16 == 0;
}

__attribute__((always_inline)) inline float sum16(const v16f* v) {
  float s[16];
  std::memcpy(s, v, 64);
  float t = 0.0f;
  for (int k = 0; k < 8; ++k) t += s[k] + s[k + 8];
  return t;
}

// One tile: MR weight rows from rt, MI input rows from i0 (sizes fixed at compile time so
// that the accumulators stay in registers).
template <int MR, int MI>
__attribute__((always_inline)) inline void widened_tile(const WeightMatrix& w, bool bf16, const float* x, float* y,
                                                        int64_t rt, int64_t i0) {
  const size_t esz = bf16 ? 2 : 4;
  v16f acc[MR][MI] = {};
  for (int64_t c = 0; c < w.cols; c += 16) {
    v16f wv[MR];
#pragma GCC unroll 4
    for (int j = 0; j < MR; ++j) load16(w.data + size_t((rt + j) * w.cols) * esz, c, bf16, &wv[j]);
#pragma GCC unroll 4
    for (int k = 0; k < MI; ++k) {
      v16f xv;
      std::memcpy(&xv, x + (i0 + k) * w.cols + c, 64);
#pragma GCC unroll 4
      for (int j = 0; j < MR; ++j) acc[j][k] += wv[j] * xv;
    }
  }
  for (int j = 0; j < MR; ++j)
    for (int k = 0; k < MI; ++k)
      y[(i0 + k) * w.rows + rt + j] = sum16(&acc[j][k]) + (w.bias ? w.bias[size_t(rt + j)] : 0.0f);
}

template <int MR>
__attribute__((always_inline)) inline void widened_tiles(const WeightMatrix& w, bool bf16, const float* x, int64_t n,
                                                         float* y, int64_t rt) {
  int64_t i0 = 0;
  for (; i0 + 4 <= n; i0 += 4) widened_tile<MR, 4>(w, bf16, x, y, rt, i0);
  switch (n - i0) {
    case 3: widened_tile<MR, 3>(w, bf16, x, y, rt, i0); break;
    case 2: widened_tile<MR, 2>(w, bf16, x, y, rt, i0); break;
    case 1: widened_tile<MR, 1>(w, bf16, x, y, rt, i0); break;
    default: break;
  }
}

MLXCPP_SIMD_CLONES
void widened_rows_kernel(const WeightMatrix& w, const float* x, int64_t n, float* y, int64_t r0, int64_t r1) {
  const bool bf16 = w.dtype == DType::BF16;
  int64_t rt = r0;
  // Decode reads one weight row at a time: a single stream from memory per thread (four
  // rows at once, four streams, ran at two thirds of the speed on the 2-core EPYC).
  if (n < 4) {
    for (; rt < r1; ++rt) widened_tiles<1>(w, bf16, x, n, y, rt);
    return;
  }
  for (; rt + 4 <= r1; rt += 4) widened_tiles<4>(w, bf16, x, n, y, rt);
  switch (r1 - rt) {
    case 3: widened_tiles<3>(w, bf16, x, n, y, rt); break;
    case 2: widened_tiles<2>(w, bf16, x, n, y, rt); break;
    case 1: widened_tiles<1>(w, bf16, x, n, y, rt); break;
    default: break;
  }
}

}  // namespace

void fast_matmul(const WeightMatrix& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  if (widens_in_registers(w)) {
    pool.parallel_for(w.rows, [&](int64_t r0, int64_t r1) { widened_rows_kernel(w, x, n, y, r0, r1); });
    return;
  }
  const Prepared& p = prepare(w, x, n);
  // Each thread's accumulators, sized here by the caller (see cpu::matmul).
  thread_local std::vector<std::vector<float>> kept;
  std::vector<std::vector<float>>& acc = kept;
  if (acc.size() < size_t(pool.size())) acc.resize(size_t(pool.size()));
  for (auto& a : acc)
    if (a.size() < size_t(n)) a.resize(size_t(n));
  pool.parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
    rows_kernel(w, p, acc[size_t(ThreadPool::thread_index())], y, r0, r1);
  });
}

}  // namespace mlxcpp::cpu
