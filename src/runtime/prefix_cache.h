// The prefix cache shared by every request on one engine: a radix tree over full KV
// blocks (kKvBlock tokens each), as SGLang's RadixAttention. A finished sequence leaves its
// blocks in the tree (the tree holds one reference to each); a new request walks the tree
// with its prompt and starts from every block that matches, whichever request, user or
// conversation turn left it. Blocks are reference-counted in the pool, so a cached block
// that a running sequence also holds is shared, and copied before it is written (the
// sequence's own copy on write). When the pool needs blocks, the least recently used
// leaves that nothing else holds go first.
//
// One cache per engine (per model): a prefix never serves another model. The key is the
// tokens themselves, so a different system prompt is a different path.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "backend/kv_pool.h"

namespace mlxcpp {

class PrefixCache {
 public:
  explicit PrefixCache(KvPool& pool) : pool_(pool) {}
  ~PrefixCache();
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  // The longest cached prefix of `tokens`, in whole blocks, adopted by `into` (an empty
  // sequence of this cache's pool). Returns the positions it holds (0: no match).
  int64_t match(std::span<const int32_t> tokens, KvSequence& into);
  // Keeps the full blocks of `kv`, which holds the KV of `tokens` (its first kv.length()).
  void insert(std::span<const int32_t> tokens, const KvSequence& kv);
  // Gives back up to `blocks` blocks to the pool (least recently used leaves that no
  // sequence holds); returns how many it freed.
  int64_t evict(int64_t blocks);
  // Blocks the tree holds, and of them those that only the tree holds.
  int64_t blocks() const { return nodes_; }
  int64_t evictable() const;

 private:
  using Key = std::array<int32_t, kKvBlock>;
  struct Node {
    int32_t block = -1;
    bool quantized = false;
    uint64_t used = 0;
    Node* parent = nullptr;
    std::map<Key, std::unique_ptr<Node>> children;
  };
  static Key key_at(std::span<const int32_t> tokens, size_t block);
  void release_all(Node& n);

  KvPool& pool_;
  Node root_;
  int64_t nodes_ = 0;
  uint64_t clock_ = 0;
};

}  // namespace mlxcpp
