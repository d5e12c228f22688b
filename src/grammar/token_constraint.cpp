#include "grammar/token_constraint.h"

#include <algorithm>
#include <numeric>

#include "util/error.h"

namespace mlxcpp::grammar {
namespace {

constexpr size_t kMaxCachedMasks = 4096;  // per constraint: 4096 × vocab/8 bytes at most

}  // namespace

VocabularyTrie::VocabularyTrie(const std::vector<std::string>& bytes, std::vector<int32_t> end_ids)
    : vocab_(int32_t(bytes.size())), bytes_(bytes), end_ids_(std::move(end_ids)) {
  std::vector<int32_t> order;
  for (int32_t id = 0; id < vocab_; ++id)
    if (!bytes_[size_t(id)].empty()) order.push_back(id);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return bytes_[size_t(a)] < bytes_[size_t(b)]; });
  // Nodes in depth-first order from the sorted strings: a path of nodes for the current
  // string, shared with the previous one as far as their common prefix.
  std::vector<uint32_t> parent{0};
  std::vector<uint8_t> via{0};
  std::vector<std::pair<uint32_t, int32_t>> ends;  // (node, token)
  std::vector<uint32_t> path{0};
  std::string prev;
  for (const int32_t id : order) {
    const std::string& s = bytes_[size_t(id)];
    size_t common = 0;
    while (common < s.size() && common < prev.size() && s[common] == prev[common]) ++common;
    path.resize(common + 1);
    for (size_t i = common; i < s.size(); ++i) {
      parent.push_back(path.back());
      via.push_back(uint8_t(s[i]));
      path.push_back(uint32_t(parent.size() - 1));
    }
    ends.emplace_back(path.back(), id);
    prev = s;
  }
  nodes_.resize(parent.size());
  for (size_t n = 1; n < parent.size(); ++n) ++nodes_[parent[n]].children;
  uint32_t at = 0;
  for (Node& n : nodes_) {
    n.first_child = at;
    at += n.children;
  }
  edges_.resize(at);
  std::vector<uint32_t> fill(nodes_.size(), 0);
  for (size_t n = 1; n < parent.size(); ++n) {  // children in creation order: sorted by byte
    Node& p = nodes_[parent[n]];
    edges_[p.first_child + fill[parent[n]]++] = Edge{via[n], uint32_t(n)};
  }
  std::stable_sort(ends.begin(), ends.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  tokens_.reserve(ends.size());
  for (size_t i = 0; i < ends.size(); ++i) {
    Node& n = nodes_[ends[i].first];
    if (n.tokens == 0) n.first_token = uint32_t(i);
    ++n.tokens;
    tokens_.push_back(ends[i].second);
  }
}

TokenConstraint::TokenConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const VocabularyTrie> vocabulary)
    : automaton_(std::move(grammar)), vocab_(std::move(vocabulary)), start_(automaton_.start()) {
  if (start_ == Automaton::kDead) fail("grammar: it matches nothing");
}

std::shared_ptr<const TokenMask> TokenConstraint::compute_mask(int32_t state) {
  const VocabularyTrie& v = *vocab_;
  auto mask = std::make_shared<TokenMask>((size_t(v.vocab_) + 31) / 32, 0u);
  auto allow = [&](int32_t id) { (*mask)[size_t(id) >> 5] |= 1u << (id & 31); };
  // Depth-first over the trie, each node entered with its automaton state.
  struct Frame {
    uint32_t node;
    int32_t state;
  };
  std::vector<Frame> todo{{0, state}};
  bool any = false;
  while (!todo.empty()) {
    const Frame f = todo.back();
    todo.pop_back();
    const VocabularyTrie::Node& n = v.nodes_[f.node];
    for (uint32_t e = n.first_child; e < n.first_child + n.children; ++e) {
      const VocabularyTrie::Edge& edge = v.edges_[e];
      const int32_t s = automaton_.next(f.state, edge.byte);
      if (s == Automaton::kDead) continue;
      const VocabularyTrie::Node& c = v.nodes_[edge.node];
      for (uint32_t t = c.first_token; t < c.first_token + c.tokens; ++t) allow(v.tokens_[t]);
      any = any || c.tokens > 0;
      if (c.children) todo.push_back({edge.node, s});
    }
  }
  if (automaton_.accepting(state) || !any)
    for (const int32_t id : v.end_ids_) allow(id);
  return mask;
}

std::shared_ptr<const TokenMask> TokenConstraint::mask(int32_t state) {
  std::lock_guard lock(mutex_);
  if (const auto it = masks_.find(state); it != masks_.end()) return it->second;
  if (masks_.size() >= kMaxCachedMasks) masks_.clear();
  auto m = compute_mask(state);
  masks_.emplace(state, m);
  return m;
}

int32_t TokenConstraint::advance(int32_t state, int32_t id) {
  std::lock_guard lock(mutex_);
  if (std::find(vocab_->end_ids_.begin(), vocab_->end_ids_.end(), id) != vocab_->end_ids_.end()) return state;
  if (id < 0 || id >= vocab_->vocab_) return Automaton::kDead;
  const std::string& b = vocab_->bytes_[size_t(id)];
  if (b.empty()) return Automaton::kDead;
  for (const char c : b) {
    state = automaton_.next(state, uint8_t(c));
    if (state == Automaton::kDead) return state;
  }
  return state;
}

bool TokenConstraint::finished(int32_t state) {
  std::lock_guard lock(mutex_);
  return automaton_.finished(state);
}

bool TokenConstraint::accepting(int32_t state) {
  std::lock_guard lock(mutex_);
  return automaton_.accepting(state);
}

}  // namespace mlxcpp::grammar
