#include "model/kv_cache.h"

#include <algorithm>

namespace mlxcpp {

KVCache::KVCache(int64_t layers_, int64_t kv_heads_, int64_t head_dim_, int64_t capacity_)
    : layers(layers_), kv_heads(kv_heads_), head_dim(head_dim_), capacity(capacity_) {
  k.assign(std::size_t(layers), std::vector<float>(size_t(kv_heads * capacity * head_dim)));
  v.assign(std::size_t(layers), std::vector<float>(size_t(kv_heads * capacity * head_dim)));
}

void KVCache::reserve(int64_t n) {
  if (n <= capacity) return;
  // The layout is [kv_head][position][head_dim]: each head's rows move to their new offset.
  const auto grow = [&](std::vector<float>& plane) {
    std::vector<float> bigger(size_t(kv_heads * n * head_dim));
    for (int64_t h = 0; h < kv_heads; ++h)
      std::copy_n(plane.begin() + std::ptrdiff_t(h * capacity * head_dim), size_t(length * head_dim),
                  bigger.begin() + std::ptrdiff_t(h * n * head_dim));
    plane.swap(bigger);
  };
  for (auto& plane : k) grow(plane);
  for (auto& plane : v) grow(plane);
  capacity = n;
}

}  // namespace mlxcpp
