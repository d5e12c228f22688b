#include "grammar/automaton.h"

#include <algorithm>

#include "util/error.h"

namespace mlxcpp::grammar {
namespace {

constexpr int32_t kUnknown = -2;
constexpr size_t kMaxDepth = 2048;  // nesting a stack may reach (JSON nested this deep is refused)

}  // namespace

size_t Automaton::StacksHash::operator()(const std::vector<Stack>& s) const {
  uint64_t h = 1469598103934665603ull;
  for (const Stack& st : s) {
    for (const int32_t p : st) h = (h ^ uint64_t(uint32_t(p))) * 1099511628211ull;
    h = (h ^ 0xFFFFFFFFull) * 1099511628211ull;
  }
  return size_t(h);
}

Automaton::Automaton(std::shared_ptr<const Grammar> grammar, int32_t max_states)
    : g_(std::move(grammar)), max_states_(max_states) {
  g_->check();
  std::vector<Stack> stacks;
  bool accepting = false;
  for (const int32_t start : g_->alternatives(g_->root())) expand(Stack{start}, stacks, accepting);
  start_ = intern(std::move(stacks), accepting);
}

// Moves the stack forward until its top is a byte set (kept in `out`) or it is empty
// (the input may end: `accepting`). A rule on top is replaced by its continuation and one
// stack per alternative; a continuation that only closes its rule is dropped first, so a
// right-recursive loop runs in constant depth.
void Automaton::expand(Stack stack, std::vector<Stack>& out, bool& accepting) const {
  const std::vector<Element>& el = g_->elements();
  while (true) {
    if (stack.empty()) {
      accepting = true;
      return;
    }
    const Element& e = el[size_t(stack.back())];
    if (e.kind == Element::Kind::End) {
      stack.pop_back();
      continue;
    }
    if (e.kind == Element::Kind::Bytes) {
      out.push_back(std::move(stack));
      return;
    }
    ++stack.back();
    if (el[size_t(stack.back())].kind == Element::Kind::End) stack.pop_back();
    if (stack.size() >= kMaxDepth) return;  // too deep: this reading ends here
    const auto alts = g_->alternatives(e.index);
    for (size_t i = 0; i + 1 < alts.size(); ++i) {
      Stack s = stack;
      s.push_back(alts[i]);
      expand(std::move(s), out, accepting);
    }
    if (alts.empty()) return;
    stack.push_back(alts.back());
  }
}

int32_t Automaton::intern(std::vector<Stack> stacks, bool accepting) {
  std::sort(stacks.begin(), stacks.end());
  stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
  if (stacks.empty() && !accepting) return kDead;
  auto& ids = accepting ? accepting_ids_ : ids_;
  if (const auto it = ids.find(stacks); it != ids.end()) return it->second;
  if (int32_t(states_.size()) >= max_states_)
    fail("grammar: more than {} automaton states; the schema or grammar is too large to run", max_states_);
  State s;
  s.stacks = stacks;
  s.accepting = accepting;
  s.next.fill(kUnknown);
  states_.push_back(std::move(s));
  const int32_t id = int32_t(states_.size() - 1);
  ids.emplace(std::move(stacks), id);
  return id;
}

int32_t Automaton::next(int32_t state, uint8_t byte) {
  int32_t cached = states_[size_t(state)].next[byte];
  if (cached != kUnknown) return cached;
  std::vector<Stack> out;
  bool accepting = false;
  // (states_ may grow inside intern: index it again after.)
  const std::vector<Stack> stacks = states_[size_t(state)].stacks;
  for (const Stack& st : stacks) {
    const Element& e = g_->elements()[size_t(st.back())];
    if (!g_->set(e.index).test(byte)) continue;
    Stack s = st;
    ++s.back();
    expand(std::move(s), out, accepting);
  }
  const int32_t id = intern(std::move(out), accepting);
  states_[size_t(state)].next[byte] = id;
  return id;
}

}  // namespace mlxcpp::grammar
