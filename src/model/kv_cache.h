// The key/value cache of one sequence: per layer, K (after RoPE) and V for every position
// so far, laid out [kv_head][position][head_dim], in float32 (the reference path) or
// bfloat16 (the fast path: half the memory and half the bytes read per decoded token, the
// precision MLX keeps for bf16 models). Attention reaches it only through store / dot_k /
// add_v, so the storage type stays a detail of this file.
//
// mlx-lm's kv_bits: with KvQuantization, a forward pass that starts with more than `start`
// positions in the cache (mlx-lm's quantized_kv_start, checked where mlx-lm's
// maybe_quantize_kv_cache is) first converts every row of K and V, and from then on keeps
// them MLX-affine quantized to `bits` in groups of `group` values along head_dim (scales and
// biases in the cache's float type), read back dequantized. The float rows are released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/device_decoder.h"

namespace mlxcpp {

enum class KvDtype { F32, BF16 };

struct KvQuantization {
  int bits = 0;  // 0: off; else 2, 3, 4, 5, 6 or 8, as mx.quantize
  int group = 64;
  int64_t start = 0;
};

// Errors naming the setting that does not suit heads of `head_dim` values.
void validate_kv_quantization(const KvQuantization& q, int64_t head_dim);

struct KVCache {
  int64_t layers = 0, kv_heads = 0, head_dim = 0, capacity = 0;
  int64_t length = 0;  // positions filled (also the RoPE offset of the next token)
  KvDtype dtype = KvDtype::F32;

  KVCache(int64_t layers, int64_t kv_heads, int64_t head_dim, int64_t capacity, KvDtype dtype = KvDtype::F32,
          KvQuantization quantization = {});
  // A cache in device memory (made by a DeviceDecoder): store / dot_k / add_v do not apply.
  KVCache(int64_t layers, int64_t kv_heads, int64_t head_dim, int64_t capacity, std::unique_ptr<DeviceKv> on_device);

  std::unique_ptr<DeviceKv> device;

  void store(int64_t layer, int64_t head, int64_t pos, const float* k, const float* v);
  float dot_k(int64_t layer, int64_t head, int64_t pos, const float* q) const;          // q · K[pos]
  void add_v(int64_t layer, int64_t head, int64_t pos, float weight, float* out) const;  // out += weight · V[pos]

  // Before a forward pass: switches to quantized storage when the cache holds more than
  // `start` positions.
  void quantize_if_due();
  // Empties the cache (quantized storage goes back to float until `start` again).
  void reset();
  bool quantized() const { return quantized_; }
  // Keeps the first n positions (for reusing a shared prompt prefix).
  void truncate(int64_t n) { length = n < length ? n : length; }
  // Grows the capacity to at least n positions, keeping the filled ones.
  void reserve(int64_t n);
  size_t value_bytes() const { return dtype == KvDtype::F32 ? 4 : 2; }
  uint64_t bytes() const;

 private:
  size_t offset(int64_t head, int64_t pos) const { return size_t((head * capacity + pos) * head_dim); }
  // A quantized row: its codes, and its group scales (or biases) in the cache's float type.
  size_t code_bytes() const { return size_t(head_dim * quant_.bits / 8); }
  size_t scale_bytes() const { return size_t(head_dim / quant_.group) * value_bytes(); }
  void allocate_float();
  void quantize_rows(int64_t upto);  // switches to quantized storage, converting [0, upto)
  void quantize_row(int64_t layer, int64_t head, int64_t pos, const float* k, const float* v);
  void dequantized(const std::vector<std::vector<uint8_t>>& codes, const std::vector<std::vector<uint8_t>>& scales,
                   const std::vector<std::vector<uint8_t>>& biases, int64_t layer, int64_t head, int64_t pos,
                   float* out) const;
  void read_float(bool key, int64_t layer, int64_t head, int64_t pos, float* out) const;
  std::vector<std::vector<float>> k32_, v32_;
  std::vector<std::vector<uint16_t>> k16_, v16_;
  KvQuantization quant_;
  bool quantized_ = false;
  // Quantized rows: codes [kv_head][position][head_dim·bits/8 bytes], scales and biases
  // [kv_head][position][head_dim/group] of the cache's float type.
  std::vector<std::vector<uint8_t>> kq_, vq_, ks_, kb_, vs_, vb_;
};

}  // namespace mlxcpp
