#include "tokenizer/bpe_model.h"

#include <fmt/format.h>

#include <array>
#include <nlohmann/json.hpp>
#include <queue>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace mlxcpp {
namespace {

constexpr size_t kCacheCapacity = 10000;  // as HF tokenizers' default word cache
constexpr size_t kMaxCachedWordBytes = 256;

uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

}  // namespace

BpeModel::BpeModel(const nlohmann::json& m, const std::string& where) {
  if (!m.contains("vocab") || !m["vocab"].is_object()) fail("{}: BPE model has no 'vocab' object", where);
  int32_t max_id = -1;
  for (const auto& [tok, id] : m["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      fail("{}: vocab['{}'] is not a valid id", where, tok);
    vocab_[tok] = id.get<int32_t>();
    max_id = std::max(max_id, id.get<int32_t>());
  }
  // Ids are dense in every real vocabulary; a sparse one would make the id table huge.
  if (size_t(max_id) >= 2 * vocab_.size() + 65536)
    fail("{}: vocabulary ids reach {} for only {} tokens (ids must be dense)", where, max_id, vocab_.size());
  id_to_token_.resize(size_t(max_id + 1));
  for (const auto& [tok, id] : vocab_) id_to_token_[size_t(id)] = tok;

  auto str = [&](const char* key) {
    return m.contains(key) && m[key].is_string() ? m[key].get<std::string>() : std::string();
  };
  continuing_subword_prefix_ = str("continuing_subword_prefix");
  end_of_word_suffix_ = str("end_of_word_suffix");
  byte_fallback_ = m.value("byte_fallback", false);
  fuse_unk_ = m.value("fuse_unk", false);
  ignore_merges_ = m.value("ignore_merges", false);
  if (const std::string unk = str("unk_token"); !unk.empty()) {
    const auto it = vocab_.find(unk);
    if (it == vocab_.end()) fail("{}: unk_token '{}' is not in the vocabulary", where, unk);
    unk_id_ = it->second;
  }
  byte_tokens_.fill(-1);
  for (int b = 0; b < 256; ++b)
    if (const auto it = vocab_.find(fmt::format("<0x{:02X}>", b)); it != vocab_.end()) byte_tokens_[size_t(b)] = it->second;

  const auto& merges = m.contains("merges") ? m["merges"] : nlohmann::json::array();
  if (!merges.is_array()) fail("{}: 'merges' is not a list", where);
  int32_t rank = 0;
  for (const auto& mg : merges) {
    std::string a, b;
    if (mg.is_string()) {
      const std::string s = mg.get<std::string>();
      const auto sp = s.find(' ');
      if (sp == std::string::npos) fail("{}: merge {} is not 'a b'", where, rank);
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
      a = mg[0].get<std::string>();
      b = mg[1].get<std::string>();
    } else {
      fail("{}: merge {} is neither 'a b' nor [a, b]", where, rank);
    }
    const auto ia = vocab_.find(a), ib = vocab_.find(b);
    if (ia == vocab_.end() || ib == vocab_.end()) fail("{}: merge {} uses a token missing from the vocabulary", where, rank);
    const std::string merged = a + b.substr(std::min(continuing_subword_prefix_.size(), b.size()));
    const auto im = vocab_.find(merged);
    if (im == vocab_.end()) fail("{}: merge {} produces '{}', which is not in the vocabulary", where, rank, merged);
    merges_.emplace(pair_key(ia->second, ib->second), MergeTarget{rank, im->second});
    ++rank;
  }
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(std::string(token));
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || size_t(id) >= id_to_token_.size() || id_to_token_[size_t(id)].empty()) return nullptr;
  return &id_to_token_[size_t(id)];
}

void BpeModel::encode(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (const auto it = cache_.find(std::string(word)); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  encode_uncached(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(word), std::move(ids));
  }
}

void BpeModel::encode_uncached(std::string_view word, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    if (const auto it = vocab_.find(std::string(word)); it != vocab_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // Symbols as a doubly linked list over a vector; -1 id marks a removed symbol.
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool unk;
  };
  std::vector<Symbol> syms;
  auto push = [&](int32_t id, bool unk) {
    if (unk && fuse_unk_ && !syms.empty() && syms.back().unk) return;  // fuse consecutive unknowns
    const int32_t i = int32_t(syms.size());
    syms.push_back({id, i - 1, i + 1, unk});
  };
  for (size_t i = 0; i < word.size();) {
    const size_t n = utf8::char_len(word, i);
    std::string s(word.substr(i, n));
    if (i > 0) s.insert(0, continuing_subword_prefix_);
    if (i + n == word.size()) s += end_of_word_suffix_;
    if (const auto it = vocab_.find(s); it != vocab_.end()) {
      push(it->second, false);
    } else {
      bool all_bytes = byte_fallback_;
      for (size_t k = 0; all_bytes && k < n; ++k)
        all_bytes = byte_tokens_[static_cast<unsigned char>(word[i + k])] >= 0;
      if (all_bytes) {
        for (size_t k = 0; k < n; ++k) push(byte_tokens_[static_cast<unsigned char>(word[i + k])], false);
      } else if (unk_id_) {
        push(*unk_id_, true);
      } else {
        fail("cannot encode '{}': not in the vocabulary and the tokenizer has no unk_token or byte fallback", s);
      }
    }
    i += n;
  }
  if (syms.empty()) return;
  syms.back().next = -1;

  struct Candidate {
    int32_t rank, pos, left_id, right_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](int32_t pos) {
    if (pos < 0) return;
    const int32_t nx = syms[size_t(pos)].next;
    if (nx < 0) return;
    const auto it = merges_.find(pair_key(syms[size_t(pos)].id, syms[size_t(nx)].id));
    if (it != merges_.end()) queue.push({it->second.rank, pos, syms[size_t(pos)].id, syms[size_t(nx)].id});
  };
  for (int32_t i = 0; i < int32_t(syms.size()); ++i) consider(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = syms[size_t(c.pos)];
    if (left.id != c.left_id || left.next < 0) continue;  // stale
    Symbol& right = syms[size_t(left.next)];
    if (right.id != c.right_id) continue;
    left.id = merges_.at(pair_key(c.left_id, c.right_id)).id;
    left.unk = false;
    right.id = -1;
    left.next = right.next;
    if (right.next >= 0) syms[size_t(right.next)].prev = c.pos;
    consider(left.prev);
    consider(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = syms[size_t(i)].next) out.push_back(syms[size_t(i)].id);
}

}  // namespace mlxcpp
