// The attention's two products over the KV cache, for a set of query rows that share one
// KV head (a GQA group, and several prompt positions): scores against keys stored 16
// positions to a tile, transposed ([head_dim][16], so that a query's 16 scores are one
// vector and need no horizontal sums), and the softmax-weighted sum of values stored by
// position ([position][head_dim]). Each key or value vector is widened once for all the
// rows instead of once per (row, position).
//
// Every row's arithmetic is the same whatever rows come with it (its own accumulators, the
// head dimension and the positions taken in order), so a prompt's rows get bit for bit the
// results they would get decoded one at a time: a prompt continued from the cache answers
// as a fresh one.
#pragma once

#include <cstdint>

namespace mlxcpp::cpu {

constexpr int64_t kKeyTile = 16;  // positions per key tile

// s[r * s_stride + j] = Σ_d q[r * head_dim + d] · K[d][j] for j < 16, with K the tile
// (f32, or bf16 when `bf16`); and when `next_keys` is not null, the same for that tile at
// s + 16 (two tiles at once keep twice the sums in flight when the rows are few).
void key_tile_scores(const float* q, int64_t rows, int64_t head_dim, const void* keys, const void* next_keys, bool bf16,
                     float* s, int64_t s_stride);

// out[r * head_dim + d] += Σ_{j < count} p[r * p_stride + j] · V[j][d], positions in order,
// with V [count][head_dim] (f32, or bf16 when `bf16`).
void add_weighted_values(const float* p, int64_t p_stride, int64_t rows, const void* values, bool bf16, int64_t count,
                         int64_t head_dim, float* out);

}  // namespace mlxcpp::cpu
