#include "backend/cpu/kv_blocks.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/cpu/attention.h"
#include "quant/quantize_tensor.h"
#include "util/error.h"
#include "util/float_bits.h"

namespace mlxcpp::cpu {
namespace {

constexpr int64_t kTile = kKeyTile;
static_assert(kKvBlock == kKeyTile, "a KV block is one key tile");

DType scales_dtype(bool f32) { return f32 ? DType::F32 : DType::BF16; }

}  // namespace

uint64_t KvBlocks::position_bytes(const KvLayout& l, bool f32, const KvQuantization& q) {
  const uint64_t vb = f32 ? 4 : 2;
  uint64_t row = uint64_t(l.head_dim) * vb;
  if (q.bits) row = std::max(row, uint64_t(l.head_dim * q.bits / 8) + 2 * uint64_t(l.head_dim / q.group) * vb);
  return uint64_t(2 * l.layers * l.kv_heads) * row;
}

KvBlocks::KvBlocks(const KvLayout& l, bool f32, const KvQuantization& q, int32_t blocks)
    : layers_(l.layers), kv_heads_(l.kv_heads), head_dim_(l.head_dim), f32_(f32), quant_(q), blocks_(blocks) {
  validate_kv_quantization(q, head_dim_);
  if (blocks <= 0) fail("the KV cache pool needs at least one block, got {}", blocks);
  // A plane holds 16 float rows or 16 quantized ones, whichever is larger.
  plane_bytes_ = position_bytes(l, f32, q) / uint64_t(2 * layers_ * kv_heads_) * uint64_t(kTile);
  plane_bytes_ = (plane_bytes_ + 63) / 64 * 64;  // whole cache lines
  block_bytes_ = plane_bytes_ * uint64_t(2 * layers_ * kv_heads_);
  mapped_bytes_ = block_bytes_ * uint64_t(blocks);
  void* p = mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    fail("cannot reserve {:.1f} MiB of address space for a KV cache pool of {} blocks",
         double(mapped_bytes_) / (1 << 20), blocks);
  base_ = static_cast<uint8_t*>(p);
}

KvBlocks::~KvBlocks() {
  if (base_) munmap(base_, mapped_bytes_);
}

void KvBlocks::copy_block(int32_t from, int32_t to) {
  std::memcpy(base_ + uint64_t(to) * block_bytes_, base_ + uint64_t(from) * block_bytes_, block_bytes_);
}

void KvBlocks::quantize_row(uint8_t* plane, int64_t row, const float* x) const {
  // The values the float cache would hold (bf16 for the fast path), then mx.quantize of them.
  float r[kKvMaxQuantizedHeadDim];
  for (int64_t d = 0; d < head_dim_; ++d) r[d] = f32_ ? x[d] : bf16_to_f32(f32_to_bf16(x[d]));
  uint8_t* at = plane + size_t(row) * quantized_row_bytes();
  quantize_matrix(r, 1, size_t(head_dim_), {QuantMode::Affine, quant_.bits, quant_.group}, scales_dtype(f32_), at,
                  at + code_bytes(), at + code_bytes() + scale_bytes());
}

void KvBlocks::dequantize_rows(const uint8_t* plane, int64_t row, int64_t count, float* out) const {
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t* at = plane + size_t(row + i) * quantized_row_bytes();
    dequantize_matrix(at, at + code_bytes(), at + code_bytes() + scale_bytes(), 1, size_t(head_dim_),
                      {QuantMode::Affine, quant_.bits, quant_.group}, scales_dtype(f32_), out + i * head_dim_);
  }
}

void KvBlocks::read_float_row(const uint8_t* plane, bool key, int64_t row, float* out) const {
  for (int64_t d = 0; d < head_dim_; ++d) {
    const size_t i = key ? size_t(d * kTile + row) : size_t(row * head_dim_ + d);
    out[d] = f32_ ? reinterpret_cast<const float*>(plane)[i] : bf16_to_f32(reinterpret_cast<const uint16_t*>(plane)[i]);
  }
}

void KvBlocks::store(const KvSequence& seq, int64_t layer, int64_t head, int64_t pos, const float* k, const float* v) {
  const int32_t block = seq.blocks()[size_t(pos / kTile)];
  const int64_t row = pos % kTile;
  uint8_t* kp = plane(block, layer, head, false);
  uint8_t* vp = plane(block, layer, head, true);
  if (seq.quantized()) {
    quantize_row(kp, row, k);
    quantize_row(vp, row, v);
    return;
  }
  for (int64_t d = 0; d < head_dim_; ++d) {
    const size_t kd = size_t(d * kTile + row), vd = size_t(row * head_dim_ + d);
    if (f32_) {
      reinterpret_cast<float*>(kp)[kd] = k[d];
      reinterpret_cast<float*>(vp)[vd] = v[d];
    } else {
      reinterpret_cast<uint16_t*>(kp)[kd] = f32_to_bf16(k[d]);
      reinterpret_cast<uint16_t*>(vp)[vd] = f32_to_bf16(v[d]);
    }
  }
}

KvBlocks::Span KvBlocks::key_tile(const KvSequence& seq, int64_t layer, int64_t head, int64_t tile,
                                  float* scratch) const {
  const uint8_t* kp = plane(seq.blocks()[size_t(tile)], layer, head, false);
  if (!seq.quantized()) return {kp, !f32_};
  float row[kKvMaxQuantizedHeadDim];
  for (int64_t j = 0; j < kTile; ++j) {
    dequantize_rows(kp, j, 1, row);
    for (int64_t d = 0; d < head_dim_; ++d) scratch[d * kTile + j] = row[d];
  }
  return {scratch, false};
}

void KvBlocks::prefetch(const KvSequence& seq, int64_t layer, int64_t head, int64_t tile, bool value) const {
  const uint8_t* p = plane(seq.blocks()[size_t(tile)], layer, head, value);
  const uint64_t bytes = seq.quantized() ? uint64_t(kTile) * quantized_row_bytes() : plane_bytes_;
  for (uint64_t at = 0; at < bytes; at += 64) __builtin_prefetch(p + at);
}

KvBlocks::Span KvBlocks::values(const KvSequence& seq, int64_t layer, int64_t head, int64_t pos, int64_t count,
                                float* scratch) const {
  const uint8_t* vp = plane(seq.blocks()[size_t(pos / kTile)], layer, head, true);
  const int64_t row = pos % kTile;
  if (!seq.quantized()) return {vp + size_t(row * head_dim_) * value_bytes(), !f32_};
  dequantize_rows(vp, row, count, scratch);
  return {scratch, false};
}

void KvBlocks::quantize_if_due(KvSequence& seq) {
  if (!quant_.bits || seq.quantized() || seq.length() <= quant_.start) return;
  std::vector<float> rows(size_t(kTile * head_dim_));
  for (size_t i = 0; i < seq.blocks().size(); ++i) {
    const int32_t block = seq.make_private(i);
    const int64_t filled = std::min(kTile, seq.length() - int64_t(i) * kTile);
    for (int64_t l = 0; l < layers_; ++l)
      for (int64_t h = 0; h < kv_heads_; ++h)
        for (const bool value : {false, true}) {
          uint8_t* p = plane(block, l, h, value);
          // The float rows are read out before the quantized ones overwrite them.
          for (int64_t r = 0; r < filled; ++r) read_float_row(p, !value, r, &rows[size_t(r * head_dim_)]);
          for (int64_t r = 0; r < filled; ++r) quantize_row(p, r, &rows[size_t(r * head_dim_)]);
        }
  }
  seq.set_quantized(true);
}

}  // namespace mlxcpp::cpu
