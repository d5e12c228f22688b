// A grammar run as a lazily built deterministic automaton over bytes.
//
// A parser state is a set of stacks of grammar positions (one stack per way the input so
// far can be read); each stack's top is a byte set to match next, and an empty stack
// means the input may end here. Each distinct set is interned once as a state id and its
// transitions are remembered per byte, so reading a byte is a table lookup once seen:
// token masks (token_constraint.h) walk a vocabulary trie through these transitions.
//
// Not thread-safe: the owner serialises calls (TokenConstraint holds a mutex).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"

namespace mlxcpp::grammar {

class Automaton {
 public:
  static constexpr int32_t kDead = -1;
  // max_states bounds the memory of the interned states (each holds 1 KB of transitions).
  explicit Automaton(std::shared_ptr<const Grammar> grammar, int32_t max_states = 1 << 16);

  int32_t start() const { return start_; }
  // The state after `byte`, or kDead when no reading of the input continues with it.
  int32_t next(int32_t state, uint8_t byte);
  // The input read so far is a complete sentence of the grammar.
  bool accepting(int32_t state) const { return states_[size_t(state)].accepting; }
  // Nothing but the end can follow (an accepting state with no byte to read).
  bool finished(int32_t state) const { return states_[size_t(state)].stacks.empty(); }
  size_t states() const { return states_.size(); }

 private:
  using Stack = std::vector<int32_t>;
  struct State {
    std::vector<Stack> stacks;  // sorted, distinct
    bool accepting = false;
    std::array<int32_t, 256> next;
  };
  struct StacksHash {
    size_t operator()(const std::vector<Stack>& s) const;
  };
  void expand(Stack stack, std::vector<Stack>& out, bool& accepting) const;
  int32_t intern(std::vector<Stack> stacks, bool accepting);

  std::shared_ptr<const Grammar> g_;
  int32_t max_states_;
  std::vector<State> states_;
  std::unordered_map<std::vector<Stack>, int32_t, StacksHash> ids_;
  std::unordered_map<std::vector<Stack>, int32_t, StacksHash> accepting_ids_;
  int32_t start_ = kDead;
};

}  // namespace mlxcpp::grammar
