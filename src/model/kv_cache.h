// The key/value cache of one sequence: per layer, K (after RoPE) and V for every
// position so far, laid out [kv_head][position][head_dim] in float32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mlxcpp {

struct KVCache {
  int64_t layers = 0, kv_heads = 0, head_dim = 0, capacity = 0;
  int64_t length = 0;  // positions filled (also the RoPE offset of the next token)
  std::vector<std::vector<float>> k, v;

  KVCache(int64_t layers, int64_t kv_heads, int64_t head_dim, int64_t capacity);
  float* k_at(int64_t layer, int64_t head, int64_t pos) { return &k[std::size_t(layer)][std::size_t((head * capacity + pos) * head_dim)]; }
  float* v_at(int64_t layer, int64_t head, int64_t pos) { return &v[std::size_t(layer)][std::size_t((head * capacity + pos) * head_dim)]; }
  void reset() { length = 0; }
  // Keeps the first n positions (for reusing a shared prompt prefix).
  void truncate(int64_t n) { length = n < length ? n : length; }
  // Grows the capacity to at least n positions, keeping the filled ones.
  void reserve(int64_t n);
  uint64_t bytes() const { return uint64_t(2 * layers * kv_heads * capacity * head_dim) * sizeof(float); }
};

}  // namespace mlxcpp
