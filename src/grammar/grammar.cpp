#include "grammar/grammar.h"

#include <algorithm>
#include <functional>

#include "util/error.h"

namespace mlxcpp::grammar {

int32_t Grammar::declare(std::string name) {
  names_.push_back(std::move(name));
  alternatives_.emplace_back();
  defined_.push_back(false);
  return int32_t(names_.size() - 1);
}

void Grammar::define(int32_t rule, const std::vector<Sequence>& alternatives) {
  if (defined_[size_t(rule)]) fail("grammar: rule '{}' is defined twice", names_[size_t(rule)]);
  defined_[size_t(rule)] = true;
  for (const Sequence& s : alternatives) {
    alternatives_[size_t(rule)].push_back(int32_t(elements_.size()));
    elements_.insert(elements_.end(), s.begin(), s.end());
    elements_.push_back(Element{Element::Kind::End, rule});
  }
}

int32_t Grammar::add(std::string name, const std::vector<Sequence>& alternatives) {
  const int32_t r = declare(std::move(name));
  define(r, alternatives);
  return r;
}

Element Grammar::bytes(const ByteSet& set) {
  for (size_t i = 0; i < sets_.size(); ++i)
    if (sets_[i] == set) return Element{Element::Kind::Bytes, int32_t(i)};
  sets_.push_back(set);
  return Element{Element::Kind::Bytes, int32_t(sets_.size() - 1)};
}

Element Grammar::byte_range(uint8_t lo, uint8_t hi) {
  ByteSet s;
  for (int b = lo; b <= hi; ++b) s.set(size_t(b));
  return bytes(s);
}

Sequence Grammar::literal(std::string_view text) {
  Sequence s;
  for (const char c : text) s.push_back(byte_range(uint8_t(c), uint8_t(c)));
  return s;
}

Element Grammar::choice(std::string name, const std::vector<Sequence>& alternatives) {
  return ref(add(std::move(name), alternatives));
}

Element Grammar::optional(std::string name, const Sequence& body) { return choice(std::move(name), {body, {}}); }

Element Grammar::star(std::string name, const Sequence& body) {
  // R ::= body R | ε — right recursion, which the automaton runs in constant stack depth.
  const int32_t r = declare(std::move(name));
  Sequence loop = body;
  loop.push_back(ref(r));
  define(r, {loop, {}});
  return ref(r);
}

Element Grammar::repeat(std::string name, const Sequence& body, int64_t min, int64_t max, const Sequence& separator) {
  Sequence next = separator;  // a repetition after the first
  next.insert(next.end(), body.begin(), body.end());
  // The tail after the first: (min - 1) required, then up to (max - min) optional, each
  // optional one nested in the previous (so that "x,x" cannot be read two ways).
  Sequence tail;
  for (int64_t i = 1; i < std::max<int64_t>(min, 1); ++i) tail.insert(tail.end(), next.begin(), next.end());
  if (max < 0) {
    tail.push_back(star(fmt::format("{}-more", name), next));
  } else if (max > std::max<int64_t>(min, 1)) {
    Element inner{};
    bool have = false;
    for (int64_t i = max - std::max<int64_t>(min, 1); i > 0; --i) {
      Sequence s = next;
      if (have) s.push_back(inner);
      inner = optional(fmt::format("{}-opt", name), s);
      have = true;
    }
    tail.push_back(inner);
  }
  Sequence once = body;
  once.insert(once.end(), tail.begin(), tail.end());
  if (max == 0) return choice(std::move(name), {{}});
  if (min == 0) return optional(std::move(name), once);
  return choice(std::move(name), {once});
}

void Grammar::check() const {
  for (size_t r = 0; r < names_.size(); ++r)
    if (!defined_[r]) fail("grammar: rule '{}' is used but never defined", names_[r]);
  if (root_ < 0) fail("grammar: no root rule");
  // Nullable rules, to a fixed point.
  std::vector<bool> nullable(names_.size(), false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < names_.size(); ++r) {
      if (nullable[r]) continue;
      for (const int32_t start : alternatives_[r]) {
        bool all = true;
        for (int32_t p = start; elements_[size_t(p)].kind != Element::Kind::End && all; ++p) {
          const Element& e = elements_[size_t(p)];
          all = e.kind == Element::Kind::Rule && nullable[size_t(e.index)];
        }
        if (all) {
          nullable[r] = true;
          changed = true;
          break;
        }
      }
    }
  }
  // Left edges: r → s when s can come first in r; a cycle is left recursion.
  std::vector<std::vector<int32_t>> left(names_.size());
  for (size_t r = 0; r < names_.size(); ++r)
    for (const int32_t start : alternatives_[r])
      for (int32_t p = start; elements_[size_t(p)].kind == Element::Kind::Rule; ++p) {
        left[r].push_back(elements_[size_t(p)].index);
        if (!nullable[size_t(elements_[size_t(p)].index)]) break;
      }
  std::vector<int> mark(names_.size(), 0);  // 0 new, 1 on the path, 2 done
  std::function<void(size_t)> visit = [&](size_t r) {
    mark[r] = 1;
    for (const int32_t s : left[r]) {
      if (mark[size_t(s)] == 1) fail("grammar: rule '{}' is left-recursive", names_[size_t(s)]);
      if (mark[size_t(s)] == 0) visit(size_t(s));
    }
    mark[r] = 2;
  };
  for (size_t r = 0; r < names_.size(); ++r)
    if (mark[r] == 0) visit(r);
}

std::vector<Sequence> utf8_multibyte(Grammar& g) {
  const Element cont = g.byte_range(0x80, 0xBF);
  return {
      {g.byte_range(0xC2, 0xDF), cont},
      {g.byte_range(0xE0, 0xE0), g.byte_range(0xA0, 0xBF), cont},
      {g.byte_range(0xE1, 0xEC), cont, cont},
      {g.byte_range(0xED, 0xED), g.byte_range(0x80, 0x9F), cont},
      {g.byte_range(0xEE, 0xEF), cont, cont},
      {g.byte_range(0xF0, 0xF0), g.byte_range(0x90, 0xBF), cont, cont},
      {g.byte_range(0xF1, 0xF3), cont, cont, cont},
      {g.byte_range(0xF4, 0xF4), g.byte_range(0x80, 0x8F), cont, cont},
  };
}

}  // namespace mlxcpp::grammar
