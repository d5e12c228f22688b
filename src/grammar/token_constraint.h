// Constrained decoding at the token level: which tokens of a vocabulary may come next so
// that the output stays a prefix of a sentence of the grammar (XGrammar and llguidance do
// the same job; this is the simple form of it).
//
// The vocabulary's tokens, as the bytes each adds to the text, form a trie, built once per
// vocabulary. A state's mask is one walk of that trie through the automaton's cached
// transitions (a branch ends at the first byte the grammar refuses); masks are cached per
// state, so a schema's second use, and every revisit of a state (the inside of a string,
// say), costs a lookup. End-of-sequence tokens are allowed exactly where the grammar
// accepts; other special tokens never.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "grammar/automaton.h"

namespace mlxcpp::grammar {

class VocabularyTrie {
 public:
  // bytes[id]: what token id adds to the text; empty for tokens never to be generated
  // (special tokens). end_ids: the tokens that end a sequence.
  VocabularyTrie(const std::vector<std::string>& bytes, std::vector<int32_t> end_ids);
  int32_t vocab() const { return vocab_; }
  const std::vector<int32_t>& end_ids() const { return end_ids_; }
  const std::string& bytes(int32_t id) const { return bytes_[size_t(id)]; }

 private:
  friend class TokenConstraint;
  struct Node {
    uint32_t first_child = 0, children = 0;  // into edges_
    uint32_t first_token = 0, tokens = 0;    // into tokens_: those whose bytes end here
  };
  struct Edge {
    uint8_t byte;
    uint32_t node;
  };
  int32_t vocab_;
  std::vector<std::string> bytes_;
  std::vector<int32_t> end_ids_;
  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
  std::vector<int32_t> tokens_;
};

// A bit per token id: bit (id % 32) of word id / 32.
using TokenMask = std::vector<uint32_t>;

inline bool mask_allows(const TokenMask& m, int32_t id) { return (m[size_t(id) >> 5] >> (id & 31)) & 1u; }

class TokenConstraint {
 public:
  TokenConstraint(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const VocabularyTrie> vocabulary);

  int32_t start() const { return start_; }
  // The tokens allowed in `state` (never empty: where the grammar allows nothing more, the
  // end-of-sequence tokens). Thread-safe.
  std::shared_ptr<const TokenMask> mask(int32_t state);
  // The state after token `id`, or Automaton::kDead if the mask did not allow it.
  // End-of-sequence tokens leave the state as it is. Thread-safe.
  int32_t advance(int32_t state, int32_t id);
  bool accepting(int32_t state);
  // Nothing can follow but the end: generation is complete.
  bool finished(int32_t state);
  const VocabularyTrie& vocabulary() const { return *vocab_; }

 private:
  std::shared_ptr<const TokenMask> compute_mask(int32_t state);

  std::mutex mutex_;
  Automaton automaton_;
  std::shared_ptr<const VocabularyTrie> vocab_;
  int32_t start_;
  std::unordered_map<int32_t, std::shared_ptr<const TokenMask>> masks_;
};

}  // namespace mlxcpp::grammar
