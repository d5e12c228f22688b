// A context-free grammar over bytes: what a JSON schema (json_schema.h) or a GBNF text
// (gbnf.h) compiles into, and what the automaton (automaton.h) runs to mask a model's
// logits. Bytes, not characters: tokens of byte-level vocabularies end inside UTF-8
// characters, so the grammar spells a character as its byte sequence.
//
// Storage is flat: each rule's alternatives are runs of elements in one array, each run
// closed by an End element; a position in that array is all a parser needs to continue.
#pragma once

#include <bitset>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mlxcpp::grammar {

using ByteSet = std::bitset<256>;

struct Element {
  enum class Kind : uint8_t { Bytes, Rule, End };
  Kind kind = Kind::End;
  int32_t index = 0;  // Bytes: a set (Grammar::set); Rule: a rule id; End: the rule it closes
};

using Sequence = std::vector<Element>;

class Grammar {
 public:
  // A rule is declared (so that others can refer to it), then defined once.
  int32_t declare(std::string name);
  void define(int32_t rule, const std::vector<Sequence>& alternatives);
  int32_t add(std::string name, const std::vector<Sequence>& alternatives);  // declare + define

  // Building blocks; each helper that needs a rule makes one named after `name`.
  Element bytes(const ByteSet& set);
  Element byte_range(uint8_t lo, uint8_t hi);
  static Element ref(int32_t rule) { return Element{Element::Kind::Rule, rule}; }
  Sequence literal(std::string_view text);
  Element choice(std::string name, const std::vector<Sequence>& alternatives);
  Element optional(std::string name, const Sequence& body);
  Element star(std::string name, const Sequence& body);
  // body repeated min..max times (max < 0: no bound), each repetition after the first
  // preceded by `separator`.
  Element repeat(std::string name, const Sequence& body, int64_t min, int64_t max, const Sequence& separator = {});

  void set_root(int32_t rule) { root_ = rule; }
  int32_t root() const { return root_; }

  // Throws Error when a rule is declared but not defined, or is left-recursive (directly
  // or through rules that can match nothing), which a top-down matcher cannot run.
  void check() const;

  const std::vector<Element>& elements() const { return elements_; }
  std::span<const int32_t> alternatives(int32_t rule) const { return alternatives_[size_t(rule)]; }
  const ByteSet& set(int32_t index) const { return sets_[size_t(index)]; }
  const std::string& name(int32_t rule) const { return names_[size_t(rule)]; }
  size_t rules() const { return names_.size(); }

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<int32_t>> alternatives_;  // start positions in elements_
  std::vector<bool> defined_;
  std::vector<Element> elements_;
  std::vector<ByteSet> sets_;
  int32_t root_ = -1;
};

// The bytes of one character of valid UTF-8 beyond ASCII, as alternatives (exact: no
// overlong forms, no surrogates, nothing past U+10FFFF).
std::vector<Sequence> utf8_multibyte(Grammar& g);

}  // namespace mlxcpp::grammar
