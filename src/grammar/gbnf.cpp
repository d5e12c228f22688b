#include "grammar/gbnf.h"

#include <map>
#include <string>

#include "util/error.h"

namespace mlxcpp::grammar {
namespace {

constexpr size_t kMaxText = 1 << 20;
constexpr int64_t kMaxRepeat = 1024;
constexpr int kMaxNesting = 64;

bool name_char(char c) { return std::isalnum(uint8_t(c)) || c == '-' || c == '_'; }

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) s += char(cp);
  else if (cp < 0x800) s += char(0xC0 | (cp >> 6)), s += char(0x80 | (cp & 63));
  else if (cp < 0x10000) s += char(0xE0 | (cp >> 12)), s += char(0x80 | ((cp >> 6) & 63)), s += char(0x80 | (cp & 63));
  else
    s += char(0xF0 | (cp >> 18)), s += char(0x80 | ((cp >> 12) & 63)), s += char(0x80 | ((cp >> 6) & 63)),
        s += char(0x80 | (cp & 63));
  return s;
}

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}

  std::shared_ptr<Grammar> run() {
    if (t_.size() > kMaxText) fail("grammar: longer than {} bytes", kMaxText);
    skip();
    while (i_ < t_.size()) {
      const std::string name = read_name();
      skip();
      if (t_.substr(i_, 3) != "::=") error(fmt::format("expected '::=' after rule name '{}'", name));
      i_ += 3;
      const int32_t r = rule(name);
      if (defined_.count(name)) error(fmt::format("rule '{}' is defined twice", name));
      defined_.insert({name, true});
      g_->define(r, alternatives(0));
      skip();
    }
    if (!rules_.count("root")) fail("grammar: no rule named 'root'");
    for (const auto& [name, r] : rules_)
      if (!defined_.count(name)) fail("grammar: rule '{}' is used but never defined", name);
    g_->set_root(rules_["root"]);
    g_->check();
    return g_;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t k = 0; k < i_ && k < t_.size(); ++k) {
      if (t_[k] == '\n') ++line, col = 1;
      else ++col;
    }
    fail("grammar: line {}, column {}: {}", line, col, what);
  }
  void skip() {  // whitespace, newlines and comments
    while (i_ < t_.size()) {
      if (std::isspace(uint8_t(t_[i_]))) ++i_;
      else if (t_[i_] == '#')
        while (i_ < t_.size() && t_[i_] != '\n') ++i_;
      else break;
    }
  }
  std::string read_name() {
    const size_t b = i_;
    while (i_ < t_.size() && name_char(t_[i_])) ++i_;
    if (b == i_) error("expected a rule name");
    return std::string(t_.substr(b, i_ - b));
  }
  int32_t rule(const std::string& name) {
    if (const auto it = rules_.find(name); it != rules_.end()) return it->second;
    const int32_t r = g_->declare(name);
    rules_.emplace(name, r);
    return r;
  }
  // After skip(): does a new rule start here ("name ::=")?
  bool at_rule_start() const {
    size_t k = i_;
    while (k < t_.size() && name_char(t_[k])) ++k;
    if (k == i_) return false;
    while (k < t_.size() && (t_[k] == ' ' || t_[k] == '\t' || t_[k] == '\n' || t_[k] == '\r')) ++k;
    return t_.substr(k, 3) == "::=";
  }
  uint32_t hex(int digits) {
    uint32_t v = 0;
    for (int d = 0; d < digits; ++d) {
      if (i_ >= t_.size() || !std::isxdigit(uint8_t(t_[i_]))) error("bad hexadecimal escape");
      const char c = t_[i_++];
      v = v * 16 + uint32_t(std::isdigit(uint8_t(c)) ? c - '0' : (std::tolower(c) - 'a' + 10));
    }
    return v;
  }
  // One character of a literal or class (escapes resolved) as a code point.
  uint32_t character() {
    if (i_ >= t_.size()) error("unexpected end of grammar");
    const uint8_t c = uint8_t(t_[i_]);
    if (c == '\\') {
      ++i_;
      if (i_ >= t_.size()) error("unexpected end of grammar");
      const char e = t_[i_++];
      switch (e) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case 'x': return hex(2);
        case 'u': return hex(4);
        case 'U': return hex(8);
        case '\\': case '"': case '[': case ']': case '-': case '^': return uint32_t(e);
        default: error(fmt::format("unknown escape '\\{}'", e));
      }
    }
    // A UTF-8 character: decode it.
    const int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i_ + size_t(n) > t_.size()) error("invalid UTF-8");
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 31) : n == 3 ? (c & 15) : (c & 7);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (uint8_t(t_[i_ + size_t(k)]) & 63);
    i_ += size_t(n);
    return cp;
  }
  Sequence char_class() {
    ++i_;  // [
    bool negate = false;
    if (i_ < t_.size() && t_[i_] == '^') negate = true, ++i_;
    ByteSet ascii;
    while (true) {
      if (i_ >= t_.size()) error("unterminated character class");
      if (t_[i_] == ']') {
        ++i_;
        break;
      }
      const uint32_t lo = character();
      uint32_t hi = lo;
      if (i_ + 1 < t_.size() && t_[i_] == '-' && t_[i_ + 1] != ']') {
        ++i_;
        hi = character();
      }
      if (hi < lo) error("a range that runs backwards");
      if (hi >= 0x80 && !negate) error("a character class over non-ASCII characters is not supported");
      for (uint32_t c = lo; c <= std::min<uint32_t>(hi, 0x7F); ++c) ascii.set(c);
    }
    if (!negate) return {g_->bytes(ascii)};
    // Everything else: the other ASCII bytes and every non-ASCII character.
    ByteSet rest;
    for (int c = 0; c < 0x80; ++c)
      if (!ascii.test(size_t(c))) rest.set(size_t(c));
    std::vector<Sequence> alts{{g_->bytes(rest)}};
    for (const Sequence& s : utf8_multibyte(*g_)) alts.push_back(s);
    return {g_->choice("class", alts)};
  }
  Sequence any_char() {
    ++i_;
    std::vector<Sequence> alts{{g_->byte_range(0, 0x7F)}};
    for (const Sequence& s : utf8_multibyte(*g_)) alts.push_back(s);
    return {g_->choice("any", alts)};
  }
  int64_t number() {
    const size_t b = i_;
    while (i_ < t_.size() && std::isdigit(uint8_t(t_[i_]))) ++i_;
    if (b == i_ || i_ - b > 6) error("expected a repetition count");
    return std::stoll(std::string(t_.substr(b, i_ - b)));
  }
  Sequence primary(int depth) {
    const char c = t_[i_];
    if (c == '"') {
      ++i_;
      std::string bytes;
      while (true) {
        if (i_ >= t_.size()) error("unterminated literal");
        if (t_[i_] == '"') {
          ++i_;
          break;
        }
        bytes += utf8(character());
      }
      return g_->literal(bytes);
    }
    if (c == '[') return char_class();
    if (c == '.') return any_char();
    if (c == '(') {
      ++i_;
      auto alts = alternatives(depth + 1);
      skip();
      if (i_ >= t_.size() || t_[i_] != ')') error("expected ')'");
      ++i_;
      return {g_->choice("group", alts)};
    }
    if (name_char(c)) return {Grammar::ref(rule(read_name()))};
    error(fmt::format("unexpected '{}'", c));
  }
  Sequence sequence(int depth) {
    Sequence out;
    while (true) {
      // Within a line only: a newline ends the sequence unless inside parentheses or the
      // next line does not start a rule.
      skip();
      if (i_ >= t_.size() || t_[i_] == '|' || t_[i_] == ')' || (depth == 0 && at_rule_start())) return out;
      Sequence p = primary(depth);
      // postfix operators
      while (i_ < t_.size() && (t_[i_] == '*' || t_[i_] == '+' || t_[i_] == '?' || t_[i_] == '{')) {
        const char op = t_[i_];
        if (op == '*') ++i_, p = {g_->repeat("star", p, 0, -1)};
        else if (op == '+') ++i_, p = {g_->repeat("plus", p, 1, -1)};
        else if (op == '?') ++i_, p = {g_->optional("opt", p)};
        else {
          ++i_;
          const int64_t m = number();
          int64_t n = m;
          if (i_ < t_.size() && t_[i_] == ',') {
            ++i_;
            n = i_ < t_.size() && t_[i_] == '}' ? -1 : number();
          }
          if (i_ >= t_.size() || t_[i_] != '}') error("expected '}'");
          ++i_;
          if (m > kMaxRepeat || n > kMaxRepeat) error("repetition counts over " + std::to_string(kMaxRepeat));
          if (n >= 0 && n < m) error("a repetition whose maximum is below its minimum");
          p = {g_->repeat("repeat", p, m, n)};
        }
      }
      out.insert(out.end(), p.begin(), p.end());
    }
  }
  std::vector<Sequence> alternatives(int depth) {
    if (depth > kMaxNesting) error("parentheses nested too deep");
    std::vector<Sequence> alts{sequence(depth)};
    while (i_ < t_.size() && t_[i_] == '|') {
      ++i_;
      alts.push_back(sequence(depth));
    }
    return alts;
  }

  std::string_view t_;
  size_t i_ = 0;
  std::shared_ptr<Grammar> g_ = std::make_shared<Grammar>();
  std::map<std::string, int32_t> rules_;
  std::map<std::string, bool> defined_;
};

}  // namespace

std::shared_ptr<Grammar> parse_gbnf(std::string_view text) { return Parser(text).run(); }

}  // namespace mlxcpp::grammar
