// The paged KV cache's blocks in host memory. A block holds kKvBlock positions of every
// layer and KV head: per (layer, head) a key tile, [head_dim][16] (the layout the attention
// kernels take scores from, attention.h), and the values, [16][head_dim], in float32 (the
// reference path) or bfloat16 (the fast path: half the bytes read per token, the precision
// MLX keeps for bf16 models).
//
// mlx-lm's kv_bits: a sequence whose forward pass starts with more than `start` positions
// (quantized_kv_start) has every row converted and from then on stored MLX-affine quantized
// to `bits` in groups of `group` values along head_dim (scales and biases in the float
// type), in the same block space, read back dequantized.
//
// The pool's memory is reserved at start-up and committed page by page as blocks are first
// written, so a large pool costs address space, not RSS.
#pragma once

#include <cstddef>
#include <cstdint>

#include "backend/backend.h"
#include "backend/kv_pool.h"

namespace mlxcpp::cpu {

class KvBlocks final : public KvBlockStore {
 public:
  KvBlocks(const KvLayout& layout, bool f32, const KvQuantization& quantization, int32_t blocks);
  ~KvBlocks() override;
  int32_t blocks() const override { return blocks_; }
  uint64_t block_bytes() const override { return block_bytes_; }
  void copy_block(int32_t from, int32_t to) override;
  // Bytes of one position of every layer and head, stored as floats (for pool sizing).
  static uint64_t position_bytes(const KvLayout& layout, bool f32, const KvQuantization& quantization);

  void store(const KvSequence& seq, int64_t layer, int64_t head, int64_t pos, const float* k, const float* v);

  // Stored values for attention: float rows hand out the block's own storage (f32, or bf16
  // when `bf16`); quantized ones are dequantized into the caller's `scratch` (f32).
  struct Span {
    const void* data;
    bool bf16;
  };
  // K of the positions of block `tile` as [head_dim][16]; scratch holds head_dim × 16
  // floats. Positions past the sequence's length hold stale values.
  Span key_tile(const KvSequence& seq, int64_t layer, int64_t head, int64_t tile, float* scratch) const;
  // V of positions [pos, pos + count), all in one block, as [count][head_dim]; scratch holds
  // count × head_dim floats.
  Span values(const KvSequence& seq, int64_t layer, int64_t head, int64_t pos, int64_t count, float* scratch) const;

  // Asks the memory for the K (or V) of block `tile` ahead of its use: a sequence's blocks
  // lie a block's bytes apart, so the hardware prefetchers cannot follow from one to the next.
  void prefetch(const KvSequence& seq, int64_t layer, int64_t head, int64_t tile, bool value) const;
  // Before a forward pass: converts the sequence's rows to quantized storage when it holds
  // more than `start` positions (its shared blocks are copied first).
  void quantize_if_due(KvSequence& seq);

 private:
  uint8_t* plane(int32_t block, int64_t layer, int64_t head, bool value) const {
    return base_ + uint64_t(block) * block_bytes_ +
           uint64_t((layer * kv_heads_ + head) * 2 + (value ? 1 : 0)) * plane_bytes_;
  }
  size_t value_bytes() const { return f32_ ? 4 : 2; }
  // A quantized row: its codes, then its group scales and biases in the float type.
  size_t code_bytes() const { return size_t(head_dim_ * quant_.bits / 8); }
  size_t scale_bytes() const { return size_t(head_dim_ / quant_.group) * value_bytes(); }
  size_t quantized_row_bytes() const { return code_bytes() + 2 * scale_bytes(); }
  void quantize_row(uint8_t* plane, int64_t row, const float* x) const;
  void dequantize_rows(const uint8_t* plane, int64_t row, int64_t count, float* out) const;
  void read_float_row(const uint8_t* plane, bool key, int64_t row, float* out) const;

  int64_t layers_, kv_heads_, head_dim_;
  bool f32_;
  KvQuantization quant_;
  int32_t blocks_;
  uint64_t plane_bytes_ = 0, block_bytes_ = 0, mapped_bytes_ = 0;
  uint8_t* base_ = nullptr;
};

}  // namespace mlxcpp::cpu
