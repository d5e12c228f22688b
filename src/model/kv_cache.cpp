#include "model/kv_cache.h"

#include <algorithm>

#include "backend/cpu/ops.h"
#include "util/float_bits.h"

namespace mlxcpp {

KVCache::KVCache(int64_t layers_, int64_t kv_heads_, int64_t head_dim_, int64_t capacity_, KvDtype dtype_)
    : layers(layers_), kv_heads(kv_heads_), head_dim(head_dim_), capacity(capacity_), dtype(dtype_) {
  const size_t plane = size_t(kv_heads * capacity * head_dim);
  if (dtype == KvDtype::F32) {
    k32_.assign(size_t(layers), std::vector<float>(plane));
    v32_.assign(size_t(layers), std::vector<float>(plane));
  } else {
    k16_.assign(size_t(layers), std::vector<uint16_t>(plane));
    v16_.assign(size_t(layers), std::vector<uint16_t>(plane));
  }
}

KVCache::KVCache(int64_t layers_, int64_t kv_heads_, int64_t head_dim_, int64_t capacity_, std::unique_ptr<DeviceKv> on_device)
    : layers(layers_), kv_heads(kv_heads_), head_dim(head_dim_), capacity(capacity_), device(std::move(on_device)) {}

void KVCache::store(int64_t layer, int64_t head, int64_t pos, const float* k, const float* v) {
  const size_t o = offset(head, pos);
  if (dtype == KvDtype::F32) {
    std::copy_n(k, head_dim, &k32_[size_t(layer)][o]);
    std::copy_n(v, head_dim, &v32_[size_t(layer)][o]);
  } else {
    for (int64_t d = 0; d < head_dim; ++d) {
      k16_[size_t(layer)][o + size_t(d)] = f32_to_bf16(k[d]);
      v16_[size_t(layer)][o + size_t(d)] = f32_to_bf16(v[d]);
    }
  }
}

float KVCache::dot_k(int64_t layer, int64_t head, int64_t pos, const float* q) const {
  const size_t o = offset(head, pos);
  if (dtype == KvDtype::F32) return cpu::dot(q, &k32_[size_t(layer)][o], head_dim);
  return cpu::dot_bf16(q, &k16_[size_t(layer)][o], head_dim);
}

void KVCache::add_v(int64_t layer, int64_t head, int64_t pos, float weight, float* out) const {
  const size_t o = offset(head, pos);
  if (dtype == KvDtype::F32) return cpu::axpy(weight, &v32_[size_t(layer)][o], out, head_dim);
  cpu::axpy_bf16(weight, &v16_[size_t(layer)][o], out, head_dim);
}

namespace {

// The layout is [kv_head][position][head_dim]: each head's rows move to their new offset.
template <typename T>
void grow(std::vector<std::vector<T>>& planes, int64_t kv_heads, int64_t head_dim, int64_t old_cap, int64_t new_cap,
          int64_t length) {
  for (auto& plane : planes) {
    std::vector<T> bigger(size_t(kv_heads * new_cap * head_dim));
    for (int64_t h = 0; h < kv_heads; ++h)
      std::copy_n(plane.begin() + std::ptrdiff_t(h * old_cap * head_dim), size_t(length * head_dim),
                  bigger.begin() + std::ptrdiff_t(h * new_cap * head_dim));
    plane.swap(bigger);
  }
}

}  // namespace

void KVCache::reserve(int64_t n) {
  if (n <= capacity) return;
  if (device) {
    device->reserve(n, length);
    capacity = n;
    return;
  }
  grow(k32_, kv_heads, head_dim, capacity, n, length);
  grow(v32_, kv_heads, head_dim, capacity, n, length);
  grow(k16_, kv_heads, head_dim, capacity, n, length);
  grow(v16_, kv_heads, head_dim, capacity, n, length);
  capacity = n;
}

}  // namespace mlxcpp
