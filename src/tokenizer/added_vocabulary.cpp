#include "tokenizer/added_vocabulary.h"

#include <utf8proc.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace mlxcpp {
namespace {

bool is_word_char(uint32_t c) {  // HF single_word: alphanumeric or '_'
  if (c == '_') return true;
  const auto cat = utf8proc_category(utf8proc_int32_t(c));
  return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) || (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

// Code point ending just before byte i (and its start), for boundary checks.
uint32_t char_before(std::string_view s, size_t i, size_t* start) {
  size_t b = i - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xc0) == 0x80) --b;
  *start = b;
  return utf8::decode_at(s, b, utf8::char_len(s, b));
}

}  // namespace

void AddedVocabulary::Trie::insert(std::string_view s, int32_t token) {
  int32_t n = 0;
  for (unsigned char c : s) {
    int32_t k = child(n, c);
    if (k < 0) {
      k = int32_t(nodes.size());
      nodes.emplace_back();
      auto& next = nodes[size_t(n)].next;
      next.insert(std::lower_bound(next.begin(), next.end(), std::make_pair(c, int32_t(-1))), {c, k});
    }
    n = k;
  }
  if (nodes[size_t(n)].token < 0) nodes[size_t(n)].token = token;  // first declaration wins
}

int32_t AddedVocabulary::Trie::child(int32_t node, unsigned char c) const {
  const auto& next = nodes[size_t(node)].next;
  const auto it = std::lower_bound(next.begin(), next.end(), std::make_pair(c, int32_t(-1)));
  return it != next.end() && it->first == c ? it->second : -1;
}

AddedVocabulary::AddedVocabulary(const nlohmann::json& list, const std::string& where) {
  if (list.is_null()) return;
  if (!list.is_array()) fail("{}: 'added_tokens' must be a list", where);
  for (const auto& t : list) {
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() || !t.contains("content") ||
        !t["content"].is_string())
      fail("{}: added token {} needs an integer 'id' and a string 'content'", where, t.dump());
    if (t["id"].get<int64_t>() < 0 || t["id"].get<int64_t>() > INT32_MAX) fail("{}: added token id {} is out of range", where, t["id"].dump());
    AddedToken a{t["id"].get<int32_t>(), t["content"].get<std::string>(), t.value("single_word", false),
                 t.value("lstrip", false), t.value("rstrip", false), t.value("normalized", false),
                 t.value("special", false)};
    if (a.content.empty()) continue;
    by_id_[a.id] = tokens_.size();
    trie_[a.normalized ? 1 : 0].insert(a.content, int32_t(tokens_.size()));
    tokens_.push_back(std::move(a));
  }
}

const AddedToken* AddedVocabulary::find(int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::vector<Segment> AddedVocabulary::split(std::string_view text, bool normalized) const {
  const Trie& trie = trie_[normalized ? 1 : 0];
  std::vector<Segment> out;
  size_t plain_start = 0;
  for (size_t i = 0; i < text.size();) {
    // Longest token starting at i.
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t j = i; j < text.size(); ++j) {
      node = trie.child(node, static_cast<unsigned char>(text[j]));
      if (node < 0) break;
      if (trie.nodes[size_t(node)].token >= 0) {
        best = trie.nodes[size_t(node)].token;
        best_end = j + 1;
      }
    }
    if (best >= 0) {
      const AddedToken& tok = tokens_[size_t(best)];
      bool ok = true;
      if (tok.single_word) {
        size_t s;
        if (i > 0 && is_word_char(char_before(text, i, &s))) ok = false;
        if (best_end < text.size() && is_word_char(utf8::decode_at(text, best_end, utf8::char_len(text, best_end)))) ok = false;
      }
      if (ok) {
        size_t b = i, e = best_end;
        if (tok.lstrip)
          while (b > plain_start) {
            size_t s;
            if (!utf8::is_whitespace(char_before(text, b, &s))) break;
            b = s;
          }
        if (tok.rstrip)
          while (e < text.size()) {
            const size_t n = utf8::char_len(text, e);
            if (!utf8::is_whitespace(utf8::decode_at(text, e, n))) break;
            e += n;
          }
        if (b > plain_start) out.push_back({std::string(text.substr(plain_start, b - plain_start)), -1, plain_start});
        out.push_back({std::string(text.substr(b, e - b)), tok.id, b});
        plain_start = i = e;
        continue;
      }
    }
    i += utf8::char_len(text, i);
  }
  if (plain_start < text.size()) out.push_back({std::string(text.substr(plain_start)), -1, plain_start});
  return out;
}

}  // namespace mlxcpp
