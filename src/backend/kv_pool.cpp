#include "backend/kv_pool.h"

#include <algorithm>

#include "util/error.h"

namespace mlxcpp {

void validate_kv_quantization(const KvQuantization& q, int64_t head_dim) {
  if (q.start < 0) fail("quantized_kv_start must be >= 0, got {}", q.start);
  if (!q.bits) return;
  const bool bits_ok = q.bits == 2 || q.bits == 3 || q.bits == 4 || q.bits == 5 || q.bits == 6 || q.bits == 8;
  if (!bits_ok) fail("kv_bits must be 2, 3, 4, 5, 6 or 8, got {}", q.bits);
  if (q.group <= 0 || head_dim % q.group != 0)
    fail("kv_group_size {} does not divide the head dimension {} of this model", q.group, head_dim);
  if (head_dim * q.bits % 32 != 0)  // MLX packs codes into 32-bit words
    fail("kv_bits {}: a head of {} values does not fill whole 32-bit words", q.bits, head_dim);
  if (head_dim > kKvMaxQuantizedHeadDim)
    fail("kv_bits: head dimension {} is larger than {}", head_dim, kKvMaxQuantizedHeadDim);
}

KvPool::KvPool(std::unique_ptr<KvBlockStore> store) : store_(std::move(store)) {
  const int32_t n = store_->blocks();
  refs_.assign(size_t(n), 0);
  free_.reserve(size_t(n));
  for (int32_t b = n - 1; b >= 0; --b) free_.push_back(b);  // lowest ids first
}

int32_t KvPool::free_blocks() const {
  std::lock_guard lock(mu_);
  return int32_t(free_.size());
}

std::vector<int32_t> KvPool::allocate(int32_t count) {
  std::lock_guard lock(mu_);
  if (count > int32_t(free_.size()))
    throw KvPoolFull(
        fmt::format("the KV cache pool is full: {} more blocks of {} positions are needed, {} of {} are free "
                    "({} MiB each; --kv-pool-tokens sets the pool's size)",
                    count, kKvBlock, free_.size(), refs_.size(), double(store_->block_bytes()) / double(1 << 20)));
  std::vector<int32_t> out(free_.end() - count, free_.end());
  free_.resize(free_.size() - size_t(count));
  for (const int32_t b : out) refs_[size_t(b)] = 1;
  return out;
}

void KvPool::retain(int32_t block) {
  std::lock_guard lock(mu_);
  ++refs_[size_t(block)];
}

void KvPool::release(int32_t block) {
  std::lock_guard lock(mu_);
  if (--refs_[size_t(block)] == 0) free_.push_back(block);
}

int32_t KvPool::references(int32_t block) const {
  std::lock_guard lock(mu_);
  return refs_[size_t(block)];
}

KvSequence& KvSequence::operator=(KvSequence&& o) noexcept {
  if (this == &o) return *this;
  clear();
  pool_ = std::move(o.pool_);
  blocks_ = std::move(o.blocks_);
  length_ = o.length_;
  quantized_ = o.quantized_;
  o.blocks_.clear();
  o.length_ = 0;
  o.quantized_ = false;
  return *this;
}

void KvSequence::reserve(int64_t n) {
  if (n <= 0) return;
  if (!pool_) fail("KV sequence without a pool");
  const int64_t need = kv_blocks_for(length_ + n) - int64_t(blocks_.size());
  // The block that position `length` falls in is written: it must be this sequence's own.
  const size_t first_written = size_t(length_ / kKvBlock);
  const bool copy_first = first_written < blocks_.size() && pool_->references(blocks_[first_written]) > 1;
  std::vector<int32_t> fresh = pool_->allocate(int32_t(std::max<int64_t>(need, 0) + (copy_first ? 1 : 0)));
  if (copy_first) {
    replace_with_copy(first_written, fresh.back());
    fresh.pop_back();
  }
  blocks_.insert(blocks_.end(), fresh.begin(), fresh.end());
}

void KvSequence::advance(int64_t n) {
  if (kv_blocks_for(length_ + n) > int64_t(blocks_.size())) fail("KV sequence advanced past its reserved blocks");
  length_ += n;
}

void KvSequence::truncate(int64_t n) {
  if (n >= length_ && kv_blocks_for(n) >= int64_t(blocks_.size())) return;
  length_ = std::min(length_, n);
  const size_t keep = size_t(kv_blocks_for(length_));
  for (size_t i = keep; i < blocks_.size(); ++i) pool_->release(blocks_[i]);
  blocks_.resize(keep);
  if (length_ == 0) quantized_ = false;
}

KvSequence KvSequence::fork(int64_t n) const {
  KvSequence out(pool_);
  out.length_ = std::min(n, length_);
  out.quantized_ = quantized_;
  out.blocks_.assign(blocks_.begin(), blocks_.begin() + kv_blocks_for(out.length_));
  for (const int32_t b : out.blocks_) pool_->retain(b);
  return out;
}

void KvSequence::adopt_blocks(const std::vector<int32_t>& blocks, bool quantized) {
  if (!pool_) fail("KV sequence without a pool");
  if (!blocks_.empty()) fail("adopt_blocks: the sequence is not empty");
  for (const int32_t b : blocks) pool_->retain(b);
  blocks_ = blocks;
  length_ = int64_t(blocks.size()) * kKvBlock;
  quantized_ = quantized;
}

int32_t KvSequence::make_private(size_t i) {
  if (pool_->references(blocks_[i]) > 1) replace_with_copy(i, pool_->allocate(1).front());
  return blocks_[i];
}

void KvSequence::replace_with_copy(size_t i, int32_t copy) {
  pool_->store().copy_block(blocks_[i], copy);
  pool_->release(blocks_[i]);
  blocks_[i] = copy;
}

}  // namespace mlxcpp
