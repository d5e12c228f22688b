#include "runtime/prefix_cache.h"

#include <algorithm>
#include <queue>

namespace mlxcpp {

PrefixCache::~PrefixCache() { release_all(root_); }

void PrefixCache::release_all(Node& n) {
  for (auto& [k, c] : n.children) {
    release_all(*c);
    pool_.release(c->block);
  }
  n.children.clear();
}

PrefixCache::Key PrefixCache::key_at(std::span<const int32_t> tokens, size_t block) {
  Key k;
  std::copy_n(tokens.begin() + std::ptrdiff_t(block * kKvBlock), kKvBlock, k.begin());
  return k;
}

int64_t PrefixCache::match(std::span<const int32_t> tokens, KvSequence& into) {
  const uint64_t now = ++clock_;
  std::vector<int32_t> blocks;
  Node* n = &root_;
  bool quantized = false;
  for (size_t b = 0; (b + 1) * kKvBlock <= tokens.size(); ++b) {
    const auto it = n->children.find(key_at(tokens, b));
    if (it == n->children.end()) break;
    Node* c = it->second.get();
    if (b == 0) quantized = c->quantized;
    if (c->quantized != quantized) break;  // a sequence's blocks are all stored one way
    c->used = now;
    blocks.push_back(c->block);
    n = c;
  }
  if (blocks.empty()) return 0;
  into.adopt_blocks(blocks, quantized);
  return into.length();
}

void PrefixCache::insert(std::span<const int32_t> tokens, const KvSequence& kv) {
  const uint64_t now = ++clock_;
  const size_t full = size_t(std::min<int64_t>(int64_t(tokens.size()), kv.length()) / kKvBlock);
  Node* n = &root_;
  for (size_t b = 0; b < full; ++b) {
    auto [it, fresh] = n->children.try_emplace(key_at(tokens, b));
    if (fresh) {
      it->second = std::make_unique<Node>();
      it->second->block = kv.blocks()[b];
      it->second->quantized = kv.quantized();
      it->second->parent = n;
      pool_.retain(it->second->block);
      ++nodes_;
    } else if (it->second->quantized != kv.quantized()) {
      return;  // stored the other way: the rest of this path stays as it is
    }
    it->second->used = now;
    n = it->second.get();
  }
}

int64_t PrefixCache::evictable() const {
  int64_t count = 0;
  std::vector<const Node*> stack{&root_};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    for (const auto& [k, c] : n->children) {
      if (pool_.references(c->block) == 1) ++count;
      stack.push_back(c.get());
    }
  }
  return count;
}

int64_t PrefixCache::evict(int64_t blocks) {
  // The leaves only the tree holds, least recently used first; a parent left without
  // children joins them (a parent is never used less recently than its children).
  const auto later = [](const Node* a, const Node* b) { return a->used > b->used; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(later)> leaves(later);
  std::vector<Node*> stack{&root_};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& [k, c] : n->children) {
      if (!c->children.empty()) stack.push_back(c.get());
      else if (pool_.references(c->block) == 1) leaves.push(c.get());
    }
  }
  int64_t freed = 0;
  while (freed < blocks && !leaves.empty()) {
    Node* leaf = leaves.top();
    leaves.pop();
    Node* parent = leaf->parent;
    pool_.release(leaf->block);
    for (auto it = parent->children.begin(); it != parent->children.end(); ++it)
      if (it->second.get() == leaf) {
        parent->children.erase(it);
        break;
      }
    --nodes_;
    ++freed;
    if (parent != &root_ && parent->children.empty() && pool_.references(parent->block) == 1) leaves.push(parent);
  }
  return freed;
}

}  // namespace mlxcpp
