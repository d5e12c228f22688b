// The key/value cache of one sequence: per layer, K (after RoPE) and V for every position
// so far, laid out [kv_head][position][head_dim], in float32 (the reference path) or
// bfloat16 (the fast path: half the memory and half the bytes read per decoded token, the
// precision MLX keeps for bf16 models). Attention reaches it only through store / dot_k /
// add_v, so the storage type stays a detail of this file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/device_decoder.h"

namespace mlxcpp {

enum class KvDtype { F32, BF16 };

struct KVCache {
  int64_t layers = 0, kv_heads = 0, head_dim = 0, capacity = 0;
  int64_t length = 0;  // positions filled (also the RoPE offset of the next token)
  KvDtype dtype = KvDtype::F32;

  KVCache(int64_t layers, int64_t kv_heads, int64_t head_dim, int64_t capacity, KvDtype dtype = KvDtype::F32);
  // A cache in device memory (made by a DeviceDecoder): store / dot_k / add_v do not apply.
  KVCache(int64_t layers, int64_t kv_heads, int64_t head_dim, int64_t capacity, std::unique_ptr<DeviceKv> on_device);

  std::unique_ptr<DeviceKv> device;

  void store(int64_t layer, int64_t head, int64_t pos, const float* k, const float* v);
  float dot_k(int64_t layer, int64_t head, int64_t pos, const float* q) const;          // q · K[pos]
  void add_v(int64_t layer, int64_t head, int64_t pos, float weight, float* out) const;  // out += weight · V[pos]

  void reset() { length = 0; }
  // Keeps the first n positions (for reusing a shared prompt prefix).
  void truncate(int64_t n) { length = n < length ? n : length; }
  // Grows the capacity to at least n positions, keeping the filled ones.
  void reserve(int64_t n);
  size_t value_bytes() const { return dtype == KvDtype::F32 ? 4 : 2; }
  uint64_t bytes() const {
    return device ? device->bytes() : uint64_t(2 * layers * kv_heads * capacity * head_dim) * value_bytes();
  }

 private:
  size_t offset(int64_t head, int64_t pos) const { return size_t((head * capacity + pos) * head_dim); }
  std::vector<std::vector<float>> k32_, v32_;
  std::vector<std::vector<uint16_t>> k16_, v16_;
};

}  // namespace mlxcpp
