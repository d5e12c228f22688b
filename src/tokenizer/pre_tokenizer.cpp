#include "tokenizer/pre_tokenizer.h"

#include <utf8proc.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/pattern.h"
#include "tokenizer/utf8.h"
#include "tokenizer/component.h"
#include "util/error.h"

namespace mlxcpp {
namespace {

using nlohmann::json;
using Ranges = std::vector<std::pair<size_t, size_t>>;

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const std::string& s, const std::string& where) {
  if (s == "Removed") return Behavior::Removed;
  if (s == "Isolated") return Behavior::Isolated;
  if (s == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (s == "MergedWithNext") return Behavior::MergedWithNext;
  if (s == "Contiguous") return Behavior::Contiguous;
  fail("{}: unknown split behavior '{}'", where, s);
}

// Splits one piece at the given matches following HF's SplitDelimiterBehavior.
void split_piece(const Piece& piece, const Ranges& matches, Behavior behavior, bool invert, std::vector<Piece>& out) {
  const std::string& t = piece.text;
  struct Seg {
    size_t b, e;
    bool match;
  };
  std::vector<Seg> segs;
  size_t last = 0;
  for (const auto& [b, e] : matches) {
    if (b > last) segs.push_back({last, b, invert});
    segs.push_back({b, e, !invert});
    last = e;
  }
  if (last < t.size()) segs.push_back({last, t.size(), invert});

  std::vector<std::pair<size_t, size_t>> parts;
  switch (behavior) {
    case Behavior::Removed:
      for (const auto& s : segs)
        if (!s.match) parts.emplace_back(s.b, s.e);
      break;
    case Behavior::Isolated:
      for (const auto& s : segs) parts.emplace_back(s.b, s.e);
      break;
    case Behavior::Contiguous: {
      bool prev_was_match = false;
      for (const auto& s : segs) {
        if (s.match && prev_was_match && !parts.empty()) parts.back().second = s.e;
        else parts.emplace_back(s.b, s.e);
        prev_was_match = s.match;
      }
      break;
    }
    case Behavior::MergedWithPrevious: {
      bool prev_was_gap = false;
      for (const auto& s : segs) {
        if (s.match && prev_was_gap && !parts.empty()) parts.back().second = s.e;
        else parts.emplace_back(s.b, s.e);
        prev_was_gap = !s.match;
      }
      break;
    }
    case Behavior::MergedWithNext: {
      bool prev_was_match = false;
      for (const auto& s : segs) {
        if (!s.match && prev_was_match && !parts.empty()) parts.back().second = s.e;
        else parts.emplace_back(s.b, s.e);
        prev_was_match = s.match;
      }
      break;
    }
  }
  for (const auto& [b, e] : parts)
    if (e > b) out.push_back({t.substr(b, e - b), piece.at_start && b == 0});
}

class Split : public PreTokenizer {
 public:
  Split(const json& j, const std::string& where)
      : pattern_(j.at("pattern"), where),
        behavior_(parse_behavior(j.value("behavior", std::string("Isolated")), where)),
        invert_(j.value("invert", false)) {}
  void apply(std::vector<Piece>& pieces) const override {
    std::vector<Piece> out;
    for (const auto& p : pieces) split_piece(p, pattern_.find_all(p.text), behavior_, invert_, out);
    pieces = std::move(out);
  }

 private:
  Pattern pattern_;
  Behavior behavior_;
  bool invert_;
};

// The GPT-2 regex used by ByteLevel when use_regex is true.
const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevel : public PreTokenizer {
 public:
  ByteLevel(const json& j, const std::string& where)
      : add_prefix_space_(j.value("add_prefix_space", true)), use_regex_(j.value("use_regex", true)) {
    if (use_regex_) regex_ = std::make_unique<Regex>(kGpt2Pattern, where);
  }
  void apply(std::vector<Piece>& pieces) const override {
    std::vector<Piece> out;
    for (auto& p : pieces) {
      if (add_prefix_space_ && !p.text.starts_with(' ')) p.text = " " + p.text;
      if (use_regex_) split_piece(p, regex_->find_all(p.text), Behavior::Isolated, false, out);
      else out.push_back(std::move(p));
    }
    for (auto& p : out) p.text = byte_level::encode(p.text);
    pieces = std::move(out);
  }

 private:
  bool add_prefix_space_, use_regex_;
  std::unique_ptr<Regex> regex_;
};

class Metaspace : public PreTokenizer {
 public:
  Metaspace(const json& j, const std::string& where) : replacement_(j.value("replacement", std::string("\u2581"))) {
    split_ = j.value("split", true);
    std::string scheme = j.value("prepend_scheme", std::string());
    if (scheme.empty()) scheme = j.value("add_prefix_space", true) ? "always" : "never";
    if (scheme != "always" && scheme != "first" && scheme != "never")
      fail("{}: unknown prepend_scheme '{}'", where, scheme);
    scheme_ = scheme;
  }
  void apply(std::vector<Piece>& pieces) const override {
    std::vector<Piece> out;
    for (auto& p : pieces) {
      std::string t;
      for (char c : p.text) {
        if (c == ' ') t += replacement_;
        else t += c;
      }
      const bool prepend = (scheme_ == "always" || (scheme_ == "first" && p.at_start)) && !t.starts_with(replacement_);
      if (prepend) t.insert(0, replacement_);
      Piece np{std::move(t), p.at_start};
      if (split_) {
        Ranges m;
        for (size_t q = np.text.find(replacement_); q != std::string::npos; q = np.text.find(replacement_, q + replacement_.size()))
          m.emplace_back(q, q + replacement_.size());
        split_piece(np, m, Behavior::MergedWithNext, false, out);
      } else {
        out.push_back(std::move(np));
      }
    }
    pieces = std::move(out);
  }

 private:
  std::string replacement_, scheme_;
  bool split_;
};

// Splits at characters chosen by a predicate (Digits, Punctuation, whitespace).
template <typename Pred>
Ranges char_matches(const std::string& t, Pred pred) {
  Ranges m;
  for (size_t i = 0; i < t.size();) {
    const size_t n = utf8::char_len(t, i);
    if (pred(utf8::decode_at(t, i, n))) m.emplace_back(i, i + n);
    i += n;
  }
  return m;
}

bool is_punctuation(uint32_t c) {
  const auto cat = utf8proc_category(utf8proc_int32_t(c));
  if (cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO) return true;
  return c < 128 && std::ispunct(int(c));  // HF also counts ASCII symbols such as $ + < = > ^ ` | ~
}

class Digits : public PreTokenizer {
 public:
  explicit Digits(bool individual) : individual_(individual) {}
  void apply(std::vector<Piece>& pieces) const override {
    std::vector<Piece> out;
    for (const auto& p : pieces)
      split_piece(p, char_matches(p.text, [](uint32_t c) { return c >= '0' && c <= '9'; }),
                  individual_ ? Behavior::Isolated : Behavior::Contiguous, false, out);
    pieces = std::move(out);
  }

 private:
  bool individual_;
};

class Punctuation : public PreTokenizer {
 public:
  explicit Punctuation(Behavior b) : behavior_(b) {}
  void apply(std::vector<Piece>& pieces) const override {
    std::vector<Piece> out;
    for (const auto& p : pieces) split_piece(p, char_matches(p.text, is_punctuation), behavior_, false, out);
    pieces = std::move(out);
  }

 private:
  Behavior behavior_;
};

class WhitespaceSplit : public PreTokenizer {
 public:
  void apply(std::vector<Piece>& pieces) const override {
    std::vector<Piece> out;
    for (const auto& p : pieces) split_piece(p, char_matches(p.text, utf8::is_whitespace), Behavior::Removed, false, out);
    pieces = std::move(out);
  }
};

class Whitespace : public PreTokenizer {
 public:
  explicit Whitespace(const std::string& where) : regex_(R"(\w+|[^\w\s]+)", where) {}
  void apply(std::vector<Piece>& pieces) const override {
    std::vector<Piece> out;
    for (const auto& p : pieces) split_piece(p, regex_.find_all(p.text), Behavior::Removed, true, out);
    pieces = std::move(out);
  }

 private:
  Regex regex_;
};

class Sequence : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> parts) : parts_(std::move(parts)) {}
  void apply(std::vector<Piece>& pieces) const override {
    for (const auto& p : parts_) p->apply(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = component_type(j, where, "pre_tokenizer");
  const std::string w = where + " (" + type + ")";
  if (type == "Split") return std::make_unique<Split>(j, w);
  if (type == "ByteLevel") return std::make_unique<ByteLevel>(j, w);
  if (type == "Metaspace") return std::make_unique<Metaspace>(j, w);
  if (type == "Digits") return std::make_unique<Digits>(j.value("individual_digits", false));
  if (type == "Punctuation") return std::make_unique<Punctuation>(parse_behavior(j.value("behavior", std::string("Isolated")), w));
  if (type == "Whitespace") return std::make_unique<Whitespace>(w);
  if (type == "WhitespaceSplit") return std::make_unique<WhitespaceSplit>();
  if (type == "Sequence") {
    return std::make_unique<Sequence>(sequence_parts<PreTokenizer>(j, "pretokenizers", where, make_pre_tokenizer));
  }
  fail("{}: unsupported pre_tokenizer type '{}' (supported: Split, ByteLevel, Metaspace, Digits, Punctuation, "
       "Whitespace, WhitespaceSplit, Sequence)", where, type);
}

}  // namespace mlxcpp
