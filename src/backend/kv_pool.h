// The paged KV cache's bookkeeping, the same on every backend: a pool of fixed-size blocks
// (kKvBlock positions of every layer's keys and values), allocated at start-up in the
// backend's memory (KvBlockStore), and per sequence a block table (KvSequence). Sequences
// with a common prefix share its blocks, reference-counted; a shared block is copied before
// it is written (copy on write). Running out of blocks is an error that changes nothing
// (KvPoolFull), never a corruption: a scheduler can wait or preempt on it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "util/error_type.h"

namespace mlxcpp {

constexpr int64_t kKvBlock = 16;                 // positions per block (the CPU attention's key tile)
constexpr int64_t kKvMaxQuantizedHeadDim = 512;  // quantized rows are dequantized on the stack

// mlx-lm's kv_bits / kv_group_size / quantized_kv_start: once a sequence's forward pass
// starts with more than `start` positions, its rows are kept MLX-affine quantized.
struct KvQuantization {
  int bits = 0;  // 0: off; else 2, 3, 4, 5, 6 or 8, as mx.quantize
  int group = 64;
  int64_t start = 0;
};

// Errors naming the setting that does not suit heads of `head_dim` values.
void validate_kv_quantization(const KvQuantization& q, int64_t head_dim);

inline int64_t kv_blocks_for(int64_t positions) { return (positions + kKvBlock - 1) / kKvBlock; }

// The blocks' storage, made by a backend (host memory on the CPU, device memory on a GPU).
class KvBlockStore {
 public:
  virtual ~KvBlockStore() = default;
  virtual int32_t blocks() const = 0;
  virtual uint64_t block_bytes() const = 0;
  virtual void copy_block(int32_t from, int32_t to) = 0;
};

class KvPoolFull : public Error {
 public:
  using Error::Error;
};

class KvPool {
 public:
  explicit KvPool(std::unique_ptr<KvBlockStore> store);
  KvPool(const KvPool&) = delete;
  KvPool& operator=(const KvPool&) = delete;

  int32_t blocks() const { return int32_t(refs_.size()); }
  int32_t free_blocks() const;
  int32_t used_blocks() const { return blocks() - free_blocks(); }
  uint64_t block_bytes() const { return store_->block_bytes(); }
  KvBlockStore& store() { return *store_; }

  // For KvSequence. allocate() hands out `count` blocks with one reference each, or none
  // (and throws KvPoolFull) when fewer are free.
  std::vector<int32_t> allocate(int32_t count);
  void retain(int32_t block);
  void release(int32_t block);
  int32_t references(int32_t block) const;

 private:
  std::unique_ptr<KvBlockStore> store_;
  mutable std::mutex mu_;  // sequences may be dropped on any thread
  std::vector<int32_t> free_;
  std::vector<int32_t> refs_;
};

// One sequence's block table: position p lives in blocks()[p / kKvBlock] at row p % kKvBlock.
class KvSequence {
 public:
  KvSequence() = default;
  explicit KvSequence(std::shared_ptr<KvPool> pool) : pool_(std::move(pool)) {}
  KvSequence(KvSequence&& o) noexcept { *this = std::move(o); }
  KvSequence& operator=(KvSequence&& o) noexcept;
  KvSequence(const KvSequence&) = delete;
  KvSequence& operator=(const KvSequence&) = delete;
  ~KvSequence() { clear(); }

  int64_t length() const { return length_; }  // positions filled (also the next token's position)
  const std::vector<int32_t>& blocks() const { return blocks_; }
  KvPool* pool() const { return pool_.get(); }
  uint64_t bytes() const { return pool_ ? uint64_t(blocks_.size()) * pool_->block_bytes() : 0; }

  // Room for positions [length, length + n): fresh blocks at the end and a private copy of
  // a shared block that they would write into. Throws KvPoolFull, with nothing changed,
  // when the pool does not have the blocks.
  void reserve(int64_t n);
  // The forward pass wrote positions [length, length + n) (reserved before).
  void advance(int64_t n);
  // Keeps the first n positions, releasing the blocks past them.
  void truncate(int64_t n);
  void clear() { truncate(0); }
  // A new sequence that shares this one's first n positions.
  KvSequence fork(int64_t n) const;
  // This (empty) sequence takes a reference to each of `blocks`, full ones, as its first
  // positions (a cached prefix held elsewhere, e.g. by the prefix cache).
  void adopt_blocks(const std::vector<int32_t>& blocks, bool quantized);
  // Block i made private to this sequence (copied first when shared), before it is changed
  // in place; returns its id.
  int32_t make_private(size_t i);

  // mlx-lm's kv_bits: set once the sequence's rows are stored quantized (backend/cpu).
  bool quantized() const { return quantized_; }
  void set_quantized(bool q) { quantized_ = q; }

 private:
  // Copy on write: block i's contents into `copy` (a block this sequence holds), which
  // takes its place; the shared one loses this sequence's reference.
  void replace_with_copy(size_t i, int32_t copy);

  std::shared_ptr<KvPool> pool_;
  std::vector<int32_t> blocks_;
  int64_t length_ = 0;
  bool quantized_ = false;
};

}  // namespace mlxcpp
