// The key/value cache of one sequence: per layer, K (after RoPE) and V for every position
// so far, in float32 (the reference path) or bfloat16 (the fast path: half the memory and
// half the bytes read per decoded token, the precision MLX keeps for bf16 models). V is laid
// out [kv_head][position][head_dim]; K in tiles of 16 positions, [kv_head][tile][head_dim][16],
// the layout the attention kernels (backend/cpu/attention.h) take scores from. Attention
// reaches the cache through store / key_tile / values.
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

#include "backend/cpu/attention.h"
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
  // A cache in device memory (made by a DeviceDecoder): store / key_tile / values do not apply.
  KVCache(int64_t layers, int64_t kv_heads, int64_t head_dim, int64_t capacity, std::unique_ptr<DeviceKv> on_device);

  std::unique_ptr<DeviceKv> device;

  void store(int64_t layer, int64_t head, int64_t pos, const float* k, const float* v);

  // Stored values for attention: a float cache hands out its own storage (f32, or bf16 when
  // `bf16`); a quantized one dequantizes into the caller's `scratch` (f32).
  struct Span {
    const void* data;
    bool bf16;
  };
  // K of positions [16·tile, 16·tile + 16) as [head_dim][16] (16 = cpu::kKeyTile); scratch
  // holds head_dim × 16 floats. Positions past `length` hold stale or zero values.
  Span key_tile(int64_t layer, int64_t head, int64_t tile, float* scratch) const;
  // V of positions [pos, pos + count) as [count][head_dim]; scratch holds count × head_dim floats.
  Span values(int64_t layer, int64_t head, int64_t pos, int64_t count, float* scratch) const;

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
  // Rows are allocated for `slots_` positions: the capacity rounded up to whole key tiles.
  size_t offset(int64_t head, int64_t pos) const { return size_t((head * slots_ + pos) * head_dim); }
  size_t key_offset(int64_t head, int64_t pos) const {
    constexpr int64_t T = cpu::kKeyTile;
    return size_t((head * slots_ + pos / T * T) * head_dim + pos % T);  // + T·d for element d
  }
  // A quantized row: its codes, and its group scales (or biases) in the cache's float type.
  size_t code_bytes() const { return size_t(head_dim * quant_.bits / 8); }
  size_t scale_bytes() const { return size_t(head_dim / quant_.group) * value_bytes(); }
  void allocate_float();
  void quantize_rows(int64_t upto);  // switches to quantized storage, converting [0, upto)
  void quantize_row(int64_t layer, int64_t head, int64_t pos, const float* k, const float* v);
  void dequantized(const std::vector<std::vector<uint8_t>>& codes, const std::vector<std::vector<uint8_t>>& scales,
                   const std::vector<std::vector<uint8_t>>& biases, int64_t layer, int64_t head, int64_t pos,
                   int64_t count, float* out) const;
  void read_float(bool key, int64_t layer, int64_t head, int64_t pos, float* out) const;
  int64_t slots_ = 0;
  std::vector<std::vector<float>> k32_, v32_;
  std::vector<std::vector<uint16_t>> k16_, v16_;
  KvQuantization quant_;
  bool quantized_ = false;
  // Quantized rows: codes [kv_head][position][head_dim·bits/8 bytes], scales and biases
  // [kv_head][position][head_dim/group] of the cache's float type.
  std::vector<std::vector<uint8_t>> kq_, vq_, ks_, kb_, vs_, vb_;
};

}  // namespace mlxcpp
