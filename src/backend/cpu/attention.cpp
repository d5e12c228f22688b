#include "backend/cpu/attention.h"

#include "backend/cpu/simd_clones.h"
#include "backend/cpu/vec16.h"
#include "util/float_bits.h"

namespace mlxcpp::cpu {
namespace {

// Up to R rows against N key tiles (the n-th's scores at s + 16n): each K[d] widened once,
// R × N accumulators, each a chain of head_dim dependent multiply-adds.
template <int R, int N>
__attribute__((always_inline)) inline void score_rows(const float* q, int64_t head_dim, const void* const* keys,
                                                      bool bf16, float* s, int64_t s_stride) {
  v16f acc[N][R] = {};
  for (int64_t d = 0; d < head_dim; ++d) {
    v16f k[N];
#pragma GCC unroll 2
    for (int n = 0; n < N; ++n) load16(keys[n], d * kKeyTile, bf16, &k[n]);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
      for (int n = 0; n < N; ++n) acc[n][r] += q[r * head_dim + d] * k[n];
  }
  for (int n = 0; n < N; ++n)
    for (int r = 0; r < R; ++r) std::memcpy(s + r * s_stride + n * kKeyTile, &acc[n][r], sizeof(v16f));
}

// Up to R rows × C vectors of 16 dimensions starting at d0: each V[j][d0..] widened once.
template <int R, int C>
__attribute__((always_inline)) inline void value_block(const float* p, int64_t p_stride, const void* values, bool bf16,
                                                       int64_t count, int64_t head_dim, int64_t d0, float* out) {
  v16f acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) std::memcpy(&acc[r][c], out + r * head_dim + d0 + 16 * c, sizeof(v16f));
  for (int64_t j = 0; j < count; ++j) {
    v16f v[C];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) load16(values, j * head_dim + d0 + 16 * c, bf16, &v[c]);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const float w = p[r * p_stride + j];
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[r][c] += w * v[c];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) std::memcpy(out + r * head_dim + d0 + 16 * c, &acc[r][c], sizeof(v16f));
}

template <int R>
__attribute__((always_inline)) inline void value_rows(const float* p, int64_t p_stride, const void* values, bool bf16,
                                                      int64_t count, int64_t head_dim, float* out) {
  int64_t d0 = 0;
  for (; d0 + 64 <= head_dim; d0 += 64) value_block<R, 4>(p, p_stride, values, bf16, count, head_dim, d0, out);
  for (; d0 + 16 <= head_dim; d0 += 16) value_block<R, 1>(p, p_stride, values, bf16, count, head_dim, d0, out);
  // Head dimensions that are not a multiple of 16 (tiny test models): the rest one by one.
  for (; d0 < head_dim; ++d0)
    for (int r = 0; r < R; ++r) {
      float acc = out[r * head_dim + d0];
      for (int64_t j = 0; j < count; ++j) {
        const int64_t i = j * head_dim + d0;
        const float x =
            bf16 ? bf16_to_f32(static_cast<const uint16_t*>(values)[i]) : static_cast<const float*>(values)[i];
        acc += p[r * p_stride + j] * x;
      }
      out[r * head_dim + d0] = acc;
    }
}

}  // namespace

MLXCPP_SIMD_CLONES
void key_tile_scores(const float* q, int64_t rows, int64_t head_dim, const void* keys, const void* next_keys, bool bf16,
                     float* s, int64_t s_stride) {
  const void* tiles[2] = {keys, next_keys};
  int64_t r = 0;
  for (; r + 8 <= rows; r += 8) {  // 8 chains: enough in flight with one tile
    score_rows<8, 1>(q + r * head_dim, head_dim, tiles, bf16, s + r * s_stride, s_stride);
    if (next_keys) score_rows<8, 1>(q + r * head_dim, head_dim, tiles + 1, bf16, s + r * s_stride + kKeyTile, s_stride);
  }
  for (; r + 4 <= rows; r += 4) {
    if (next_keys)
      score_rows<4, 2>(q + r * head_dim, head_dim, tiles, bf16, s + r * s_stride, s_stride);
    else
      score_rows<4, 1>(q + r * head_dim, head_dim, tiles, bf16, s + r * s_stride, s_stride);
  }
  for (; r < rows; ++r) {
    if (next_keys)
      score_rows<1, 2>(q + r * head_dim, head_dim, tiles, bf16, s + r * s_stride, s_stride);
    else
      score_rows<1, 1>(q + r * head_dim, head_dim, tiles, bf16, s + r * s_stride, s_stride);
  }
}

MLXCPP_SIMD_CLONES
void add_weighted_values(const float* p, int64_t p_stride, int64_t rows, const void* values, bool bf16, int64_t count,
                         int64_t head_dim, float* out) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    value_rows<4>(p + r * p_stride, p_stride, values, bf16, count, head_dim, out + r * head_dim);
  for (; r < rows; ++r) value_rows<1>(p + r * p_stride, p_stride, values, bf16, count, head_dim, out + r * head_dim);
}

}  // namespace mlxcpp::cpu
