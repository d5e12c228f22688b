#include "grammar/json_schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "util/error.h"

namespace mlxcpp::grammar {
namespace {

using json = nlohmann::ordered_json;

constexpr int kMaxIntegerDigits = 16;
constexpr int64_t kMaxExpandedRepeat = 1024;  // minItems/maxItems/…Length expanded at most this far

const std::set<std::string>& annotations() {
  static const std::set<std::string> a{"title",    "description", "default", "examples", "$schema",  "$id",
                                       "$comment", "deprecated",  "readOnly", "writeOnly", "$defs", "definitions",
                                       "discriminator"};
  return a;
}

std::string escape_pointer(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

class Compiler {
 public:
  Compiler(Grammar& g, const json& root, std::string where) : g_(g), root_(root), where_(std::move(where)) {}

  int32_t value_rule(const json& schema, const std::string& path) {
    return g_.add(name(path), {{value(schema, path)}});
  }

 private:
  std::string name(const std::string& path) const { return path.empty() ? "root" : path; }

  [[noreturn]] void refuse(const std::string& path, const std::string& what) const {
    fail("{}{}: {}", where_, path.empty() ? "" : " at " + path, what);
  }

  // ── shared pieces ─────────────────────────────────────────────────────────────────────
  Element ws() {
    if (ws_ < 0) {
      // Nothing, one space, or a newline and an indent: enough for compact and pretty
      // output, never an endless run of whitespace.
      Sequence indent = g_.literal("\n");
      indent.push_back(g_.repeat("ws-indent", {g_.bytes(ByteSet().set(' ').set('\t'))}, 0, 20));
      ws_ = g_.add("ws", {{}, g_.literal(" "), indent});
    }
    return Grammar::ref(ws_);
  }
  Element digit() { return g_.byte_range('0', '9'); }
  Element hex() {
    ByteSet s;
    for (int c = '0'; c <= '9'; ++c) s.set(size_t(c));
    for (int c = 'a'; c <= 'f'; ++c) s.set(size_t(c)), s.set(size_t(c - 32));
    return g_.bytes(s);
  }
  Element string_char() {
    if (char_ < 0) {
      ByteSet plain;
      for (int c = 0x20; c < 0x80; ++c)
        if (c != '"' && c != '\\') plain.set(size_t(c));
      std::vector<Sequence> alts{{g_.bytes(plain)}};
      ByteSet esc;
      for (const char c : std::string("\"\\/bfnrt")) esc.set(uint8_t(c));
      alts.push_back({g_.byte_range('\\', '\\'), g_.bytes(esc)});
      alts.push_back({g_.byte_range('\\', '\\'), g_.byte_range('u', 'u'), hex(), hex(), hex(), hex()});
      for (const Sequence& s : utf8_multibyte(g_)) alts.push_back(s);
      char_ = g_.add("char", alts);
    }
    return Grammar::ref(char_);
  }
  Element any_string() {
    if (string_ < 0) {
      Sequence s = g_.literal("\"");
      s.push_back(g_.star("chars", {string_char()}));
      s.push_back(g_.byte_range('"', '"'));
      string_ = g_.add("string", {s});
    }
    return Grammar::ref(string_);
  }
  // [1-9][0-9]{0,15} | 0
  Element natural() {
    if (natural_ < 0)
      natural_ = g_.add("natural", {g_.literal("0"),
                                    {g_.byte_range('1', '9'), g_.repeat("digits", {digit()}, 0, kMaxIntegerDigits - 1)}});
    return Grammar::ref(natural_);
  }
  Element fraction() {
    if (fraction_ < 0) {
      Sequence s = g_.literal(".");
      s.push_back(g_.repeat("fraction-digits", {digit()}, 1, kMaxIntegerDigits));
      fraction_ = g_.add("fraction", {s});
    }
    return Grammar::ref(fraction_);
  }
  Element any_number(bool integer) {
    int32_t& r = integer ? integer_ : number_;
    if (r < 0) {
      Sequence s{g_.optional("minus", g_.literal("-")), natural()};
      if (!integer) {
        s.push_back(g_.optional("frac", {fraction()}));
        Sequence e{g_.bytes(ByteSet().set('e').set('E')), g_.optional("exp-sign", {g_.bytes(ByteSet().set('+').set('-'))}),
                   g_.repeat("exp-digits", {digit()}, 1, 2)};
        s.push_back(g_.optional("exp", e));
      }
      r = g_.add(integer ? "integer" : "number", {s});
    }
    return Grammar::ref(r);
  }
  Element any_value() {
    if (any_ < 0) {
      any_ = g_.declare("value");
      const Element v = Grammar::ref(any_);
      // object: "{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}"
      Sequence member{any_string(), ws(), g_.byte_range(':', ':'), ws(), v, ws()};
      Sequence more = g_.literal(",");
      more.push_back(ws());
      more.insert(more.end(), member.begin(), member.end());
      Sequence members = member;
      members.push_back(g_.star("members", more));
      Sequence object = g_.literal("{");
      object.push_back(ws());
      object.push_back(g_.optional("object-body", members));
      object.push_back(g_.byte_range('}', '}'));
      Sequence item{v, ws()};
      Sequence next_item = g_.literal(",");
      next_item.push_back(ws());
      next_item.insert(next_item.end(), item.begin(), item.end());
      Sequence items = item;
      items.push_back(g_.star("items", next_item));
      Sequence array = g_.literal("[");
      array.push_back(ws());
      array.push_back(g_.optional("array-body", items));
      array.push_back(g_.byte_range(']', ']'));
      g_.define(any_, {object, array, {any_string()}, {any_number(false)}, g_.literal("true"), g_.literal("false"),
                       g_.literal("null")});
    }
    return Grammar::ref(any_);
  }

  // ── integers in a range ───────────────────────────────────────────────────────────────
  // Decimal strings of the naturals in [lo, hi] (same digit count), as alternatives.
  void same_length(const std::string& lo, const std::string& hi, Sequence prefix, std::vector<Sequence>& out) {
    if (lo.find_first_not_of('0') == std::string::npos && hi.find_first_not_of('9') == std::string::npos) {
      for (size_t i = 0; i < lo.size(); ++i) prefix.push_back(digit());  // every string of this length
      out.push_back(prefix);
      return;
    }
    if (lo.size() == 1) {
      prefix.push_back(g_.byte_range(uint8_t(lo[0]), uint8_t(hi[0])));
      out.push_back(prefix);
      return;
    }
    const std::string lo_rest = lo.substr(1), hi_rest = hi.substr(1);
    if (lo[0] == hi[0]) {
      prefix.push_back(g_.byte_range(uint8_t(lo[0]), uint8_t(lo[0])));
      same_length(lo_rest, hi_rest, prefix, out);
      return;
    }
    Sequence a = prefix;
    a.push_back(g_.byte_range(uint8_t(lo[0]), uint8_t(lo[0])));
    same_length(lo_rest, std::string(lo_rest.size(), '9'), a, out);
    if (hi[0] - lo[0] > 1) {
      Sequence m = prefix;
      m.push_back(g_.byte_range(uint8_t(lo[0] + 1), uint8_t(hi[0] - 1)));
      for (size_t i = 0; i < lo_rest.size(); ++i) m.push_back(digit());
      out.push_back(m);
    }
    Sequence b = prefix;
    b.push_back(g_.byte_range(uint8_t(hi[0]), uint8_t(hi[0])));
    same_length(std::string(hi_rest.size(), '0'), hi_rest, b, out);
  }
  // The naturals in [lo, hi] (hi < 0: no bound), without leading zeros.
  std::vector<Sequence> natural_range(int64_t lo, int64_t hi) {
    std::vector<Sequence> out;
    const std::string los = std::to_string(lo);
    const size_t max_len = hi < 0 ? size_t(kMaxIntegerDigits) : std::to_string(hi).size();
    for (size_t len = los.size(); len <= max_len; ++len) {
      std::string a = los;
      if (len != los.size()) a = std::string(len, '0'), a[0] = '1';
      const std::string b = hi >= 0 && len == max_len ? std::to_string(hi) : std::string(len, '9');
      same_length(a, b, {}, out);
    }
    return out;
  }
  // Integers in [lo, hi] (missing bounds: none), with "-" for negatives.
  Element integer_range(std::optional<int64_t> lo, std::optional<int64_t> hi, const std::string& path) {
    if (lo && hi && *lo > *hi) refuse(path, "no integer satisfies the bounds");
    std::vector<Sequence> alts;
    if (!hi || *hi >= 0) {
      for (Sequence& s : natural_range(std::max<int64_t>(lo.value_or(0), 0), hi.value_or(-1))) alts.push_back(s);
    }
    if (!lo || *lo < 0) {  // -|x| for x in [lo, min(hi, -1)]
      const int64_t a = hi ? std::max<int64_t>(-*hi, 1) : 1;
      const int64_t b = lo ? -*lo : -1;
      for (Sequence& s : natural_range(a, b)) {
        Sequence m = g_.literal("-");
        m.insert(m.end(), s.begin(), s.end());
        alts.push_back(m);
      }
    }
    return g_.choice(name(path) + "-range", alts);
  }

  // ── strings with formats ──────────────────────────────────────────────────────────────
  Sequence digits_range(int lo, int hi, int width) {  // zero-padded decimal in [lo, hi]
    std::vector<Sequence> alts;
    for (int v = lo; v <= hi; ++v) {
      std::string s = std::to_string(v);
      s = std::string(size_t(width) - s.size(), '0') + s;
      alts.push_back(g_.literal(s));
    }
    return {g_.choice("padded", alts)};
  }
  Sequence format_body(const std::string& format, const std::string& path) {
    auto cat = [](Sequence a, const Sequence& b) {
      a.insert(a.end(), b.begin(), b.end());
      return a;
    };
    const Sequence d4{digit(), digit(), digit(), digit()};
    if (format == "date" || format == "date-time") {
      std::vector<Sequence> md;
      for (int m = 1; m <= 12; ++m) {
        const int days = m == 2 ? 28 : (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;
        md.push_back(cat(cat(digits_range(m, m, 2), g_.literal("-")), digits_range(1, days, 2)));
      }
      // February 29th in leap years: YY{04, 08, ..., 96} or {00, 04, ..., 96}00.
      std::vector<Sequence> leap_endings, leap_centuries;
      for (int y = 4; y <= 96; y += 4) leap_endings.push_back(g_.literal(fmt::format("{:02d}", y)));
      for (int c = 0; c <= 96; c += 4) leap_centuries.push_back(g_.literal(fmt::format("{:02d}00", c)));
      const std::vector<Sequence> leap_years = {{digit(), digit(), g_.choice("leap-ending", leap_endings)},
                                                {g_.choice("leap-century", leap_centuries)}};
      Sequence date = cat(cat(d4, g_.literal("-")), {g_.choice("month-day", md)});
      date = {g_.choice("date", {date, cat({g_.choice("leap-year", leap_years)}, g_.literal("-02-29"))})};
      if (format == "date") return date;
      return cat(cat(date, g_.literal("T")), format_body("time", path));
    }
    if (format == "time") {
      Sequence t = cat(cat(cat(cat(digits_range(0, 23, 2), g_.literal(":")), digits_range(0, 59, 2)), g_.literal(":")),
                       digits_range(0, 59, 2));
      Sequence frac = g_.literal(".");
      frac.push_back(g_.repeat("second-fraction", {digit()}, 1, 6));
      t.push_back(g_.optional("seconds-fraction", frac));
      Sequence offset{g_.bytes(ByteSet().set('+').set('-'))};
      offset = cat(cat(cat(offset, digits_range(0, 23, 2)), g_.literal(":")), digits_range(0, 59, 2));
      t.push_back(g_.choice("time-zone", {g_.literal("Z"), offset}));
      return t;
    }
    if (format == "uuid") {
      Sequence s;
      for (const int n : {8, 4, 4, 4, 12}) {
        if (!s.empty()) s.push_back(g_.byte_range('-', '-'));
        for (int i = 0; i < n; ++i) s.push_back(hex());
      }
      return s;
    }
    if (format == "ipv4") {
      const Element octet = g_.choice("octet", natural_range(0, 255));
      return {octet, g_.byte_range('.', '.'), octet, g_.byte_range('.', '.'), octet, g_.byte_range('.', '.'), octet};
    }
    if (format == "email") {
      // The dot-atom form of RFC 5321 (ajv-formats' too): atoms of atext joined by single
      // dots, then two or more DNS labels. (Quoted local parts and address literals are
      // valid too, but no model is asked for them.)
      ByteSet atext, alnum;
      for (int c = 'a'; c <= 'z'; ++c) atext.set(size_t(c)), alnum.set(size_t(c));
      for (int c = 'A'; c <= 'Z'; ++c) atext.set(size_t(c)), alnum.set(size_t(c));
      for (int c = '0'; c <= '9'; ++c) atext.set(size_t(c)), alnum.set(size_t(c));
      for (const char c : std::string("!#$%&'*+-/=?^_`{|}~")) atext.set(uint8_t(c));
      const Element atom = g_.repeat("local-atom", {g_.bytes(atext)}, 1, 32);
      Sequence more_atoms = g_.literal(".");
      more_atoms.push_back(atom);
      ByteSet inner = alnum;
      inner.set('-');
      // label: [a-z0-9] ([a-z0-9-]{0,61} [a-z0-9])?
      Sequence tail{g_.repeat("label-inner", {g_.bytes(inner)}, 0, 61), g_.bytes(alnum)};
      const Element label = g_.choice("label", {{g_.bytes(alnum), g_.optional("label-tail", tail)}});
      Sequence more_labels = g_.literal(".");
      more_labels.push_back(label);
      return {atom, g_.repeat("local-more", more_atoms, 0, 3), g_.byte_range('@', '@'), label,
              g_.repeat("domain", more_labels, 1, 4)};
    }
    refuse(path, "string format '" + format + "' is not supported (supported: date, time, date-time, uuid, ipv4, email)");
  }

  // ── the schema walk ───────────────────────────────────────────────────────────────────
  const json& resolve(const std::string& ref, const std::string& path) {
    if (ref.empty() || ref[0] != '#') refuse(path, "$ref '" + ref + "' is not a reference into this schema");
    try {
      return root_.at(json::json_pointer(ref.substr(1)));
    } catch (const json::exception&) {
      refuse(path, "$ref '" + ref + "' does not resolve");
    }
  }

  Element number(const json& s, const std::string& path, bool integer) {
    const bool bounded = s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") ||
                         s.contains("exclusiveMaximum");
    if (!bounded) return any_number(integer);
    std::optional<double> lo, hi;  // lo <= x <= hi (exclusive bounds kept apart)
    bool lo_ex = false, hi_ex = false;
    for (const char* k : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
      if (!s.contains(k)) continue;
      if (s[k].is_boolean()) refuse(path, std::string("boolean '") + k + "' (draft 4) is not supported");
      if (!s[k].is_number()) refuse(path, std::string("'") + k + "' is not a number");
    }
    if (s.contains("minimum")) lo = s["minimum"].get<double>();
    if (s.contains("exclusiveMinimum") && (!lo || s["exclusiveMinimum"].get<double>() >= *lo))
      lo = s["exclusiveMinimum"].get<double>(), lo_ex = true;
    if (s.contains("maximum")) hi = s["maximum"].get<double>();
    if (s.contains("exclusiveMaximum") && (!hi || s["exclusiveMaximum"].get<double>() <= *hi))
      hi = s["exclusiveMaximum"].get<double>(), hi_ex = true;
    // The integers inside the bounds (a subset for numbers: whole values, and fractions
    // where the next integer is still inside).
    const double limit = 1e15;
    if ((lo && std::fabs(*lo) > limit) || (hi && std::fabs(*hi) > limit)) refuse(path, "bounds beyond ±1e15 are not supported");
    std::optional<int64_t> a, b;
    if (lo) a = int64_t(lo_ex ? std::floor(*lo) + 1 : std::ceil(*lo));
    if (hi) b = int64_t(hi_ex ? std::ceil(*hi) - 1 : std::floor(*hi));
    if (a && b && *a > *b) refuse(path, "no " + std::string(integer ? "integer" : "whole number") + " satisfies the bounds");
    if (integer) return integer_range(a, b, path);
    // x = ±(i.f): a fraction is allowed on i when i + 1 stays within the upper bound (then
    // i.f < i + 1 <= hi) and i within the lower one (i > lo when it is exclusive: i.0 = i).
    std::vector<Sequence> alts{{integer_range(a, b, path)}};
    const std::optional<int64_t> pos_hi = hi ? std::optional<int64_t>(int64_t(std::floor(*hi)) - 1) : std::nullopt;
    if (!pos_hi || *pos_hi >= std::max<int64_t>(a.value_or(0), 0)) {
      Sequence s1{integer_range(std::max<int64_t>(a.value_or(0), 0), pos_hi, path + "/positive"), fraction()};
      alts.push_back(s1);
    }
    // Negatives with a fraction, -(i.f): i >= max(-b, 0) and i + 1 <= -a.
    const int64_t neg_lo = b ? std::max<int64_t>(-*b, 0) : 0;
    const std::optional<int64_t> neg_hi = lo ? std::optional<int64_t>(-int64_t(std::ceil(*lo)) - 1) : std::nullopt;
    if (!neg_hi || *neg_hi >= neg_lo) {
      Sequence s2 = g_.literal("-");
      s2.push_back(integer_range(neg_lo, neg_hi, path + "/negative"));
      s2.push_back(fraction());
      alts.push_back(s2);
    }
    return g_.choice(name(path) + "-number", alts);
  }

  Element string(const json& s, const std::string& path) {
    const int64_t min = s.value("minLength", int64_t(0));
    const int64_t max = s.contains("maxLength") ? s["maxLength"].get<int64_t>() : -1;
    if (s.contains("pattern")) refuse(path, "'pattern' is not supported");
    if (s.contains("format")) {
      if (s.contains("minLength") || s.contains("maxLength")) refuse(path, "'format' with a length bound is not supported");
      Sequence q = g_.literal("\"");
      const Sequence body = format_body(s["format"].get<std::string>(), path);
      q.insert(q.end(), body.begin(), body.end());
      q.push_back(g_.byte_range('"', '"'));
      return g_.choice(name(path) + "-" + s["format"].get<std::string>(), {q});
    }
    if (min == 0 && max < 0) return any_string();
    if (min > kMaxExpandedRepeat || max > kMaxExpandedRepeat)
      refuse(path, "string lengths over " + std::to_string(kMaxExpandedRepeat) + " are not supported");
    if (max >= 0 && max < min) refuse(path, "maxLength is below minLength");
    Sequence q = g_.literal("\"");
    q.push_back(g_.repeat(name(path) + "-chars", {string_char()}, min, max));
    q.push_back(g_.byte_range('"', '"'));
    return g_.choice(name(path) + "-string", {q});
  }

  Element array(const json& s, const std::string& path) {
    std::vector<json> prefix;
    json items = true;  // the schema of items after the prefix (false: none)
    if (s.contains("prefixItems")) {
      for (const json& p : s["prefixItems"]) prefix.push_back(p);
      if (s.contains("items")) items = s["items"];
    } else if (s.contains("items") && s["items"].is_array()) {
      for (const json& p : s["items"]) prefix.push_back(p);
      items = s.value("additionalItems", json(true));
    } else if (s.contains("items")) {
      items = s["items"];
    }
    const int64_t min = s.value("minItems", int64_t(0));
    int64_t max = s.contains("maxItems") ? s["maxItems"].get<int64_t>() : -1;
    if (items.is_boolean() && !items.get<bool>()) max = max < 0 ? int64_t(prefix.size()) : std::min<int64_t>(max, int64_t(prefix.size()));
    if (max >= 0 && max < min) refuse(path, "no array satisfies minItems and maxItems");
    if (min > kMaxExpandedRepeat || max > kMaxExpandedRepeat)
      refuse(path, "array bounds over " + std::to_string(kMaxExpandedRepeat) + " are not supported");
    if (s.value("uniqueItems", false)) refuse(path, "'uniqueItems' is not supported");
    // "[" ws ( item ws ( "," ws item ws )* )? "]" with the prefix's items first.
    std::vector<Element> prefix_elems;
    for (size_t i = 0; i < prefix.size(); ++i) prefix_elems.push_back(value(prefix[i], path + "/prefixItems/" + std::to_string(i)));
    const int64_t P = int64_t(prefix.size());
    Sequence comma = g_.literal(",");
    comma.push_back(ws());
    // Counts n in [min, max]: the first min(n, P) items are the prefix's.
    std::vector<Sequence> alts;
    auto with_prefix = [&](int64_t k) {  // exactly k prefix items
      Sequence q;
      for (int64_t i = 0; i < k; ++i) {
        if (i) q.insert(q.end(), comma.begin(), comma.end());
        q.push_back(prefix_elems[size_t(i)]);
        q.push_back(ws());
      }
      return q;
    };
    for (int64_t k = std::min(min, P); k <= P && (max < 0 || k <= max); ++k) {
      if (k < P && k < min) continue;
      if (k < P) {  // stop inside the prefix
        alts.push_back(with_prefix(k));
        continue;
      }
      // the whole prefix, then rest items in [max(min - P, 0), max - P]
      Sequence q = with_prefix(P);
      const int64_t rmin = std::max<int64_t>(min - P, 0), rmax = max < 0 ? -1 : max - P;
      if (rmax != 0 && !(items.is_boolean() && !items.get<bool>())) {
        Sequence item{value(items, path + "/items"), ws()};
        if (P > 0) {
          Sequence more = comma;
          more.insert(more.end(), item.begin(), item.end());
          q.push_back(g_.repeat(name(path) + "-rest", more, rmin, rmax));
        } else {
          q.push_back(g_.repeat(name(path) + "-items", item, rmin, rmax, comma));
        }
      }
      alts.push_back(q);
    }
    if (alts.empty()) refuse(path, "no array satisfies the item bounds");
    Sequence a = g_.literal("[");
    a.push_back(ws());
    a.push_back(g_.choice(name(path) + "-body", alts));
    a.push_back(g_.byte_range(']', ']'));
    return g_.choice(name(path) + "-array", {a});
  }

  Element object(const json& s, const std::string& path) {
    for (const char* k : {"patternProperties", "propertyNames", "minProperties", "maxProperties", "dependentRequired",
                          "dependentSchemas", "dependencies", "unevaluatedProperties"})
      if (s.contains(k)) refuse(path, std::string("'") + k + "' is not supported");
    std::vector<std::pair<std::string, json>> props;
    if (s.contains("properties")) {
      if (!s["properties"].is_object()) refuse(path, "'properties' is not an object");
      for (const auto& [k, v] : s["properties"].items()) props.emplace_back(k, v);
    }
    std::set<std::string> required;
    if (s.contains("required"))
      for (const json& r : s["required"]) required.insert(r.get<std::string>());
    const json additional = s.value("additionalProperties", json(true));
    for (const json& listed : s.value("required", json::array())) {  // in the order listed
      const std::string r = listed.get<std::string>();
      if (std::none_of(props.begin(), props.end(), [&](const auto& p) { return p.first == r; })) {
        if (additional.is_boolean() && !additional.get<bool>())
          refuse(path, "required property '" + r + "' is not allowed by additionalProperties: false");
        props.emplace_back(r, additional);
      }
    }
    Sequence comma = g_.literal(",");
    comma.push_back(ws());
    Sequence open = g_.literal("{");
    open.push_back(ws());
    if (props.empty()) {
      // Free-form: any keys, values per additionalProperties.
      if (additional.is_boolean() && !additional.get<bool>()) {
        open.push_back(g_.byte_range('}', '}'));
        return g_.choice(name(path) + "-object", {open});
      }
      Sequence member{any_string(), ws(), g_.byte_range(':', ':'), ws(), value(additional, path + "/additionalProperties"),
                      ws()};
      open.push_back(g_.repeat(name(path) + "-members", member, 0, -1, comma));
      open.push_back(g_.byte_range('}', '}'));
      return g_.choice(name(path) + "-object", {open});
    }
    // Properties in the listed order; after(i, first): the members from property i on,
    // `first` when none has been written yet (so no comma before the next).
    const size_t n = props.size();
    std::vector<Element> member(n);
    for (size_t i = 0; i < n; ++i) {
      const std::string key = json(props[i].first).dump();
      Sequence m = g_.literal(key);
      m.push_back(ws());
      m.push_back(g_.byte_range(':', ':'));
      m.push_back(ws());
      m.push_back(value(props[i].second, path + "/properties/" + escape_pointer(props[i].first)));
      m.push_back(ws());
      member[i] = g_.choice(name(path) + "-" + props[i].first, {m});
    }
    std::vector<std::array<int32_t, 2>> after(n + 1);
    for (size_t i = 0; i <= n; ++i)
      for (int first = 0; first < 2; ++first) after[i][size_t(first)] = g_.declare(name(path) + "-after-" + std::to_string(i));
    for (size_t i = 0; i <= n; ++i)
      for (int first = 0; first < 2; ++first) {
        if (i == n) {
          g_.define(after[i][size_t(first)], {{}});
          continue;
        }
        std::vector<Sequence> alts;
        Sequence present = first ? Sequence{} : comma;
        present.push_back(member[i]);
        present.push_back(Grammar::ref(after[i + 1][0]));
        alts.push_back(present);
        if (!required.count(props[i].first)) alts.push_back({Grammar::ref(after[i + 1][size_t(first)])});
        g_.define(after[i][size_t(first)], alts);
      }
    open.push_back(Grammar::ref(after[0][1]));
    open.push_back(g_.byte_range('}', '}'));
    return g_.choice(name(path) + "-object", {open});
  }

  Element one_of(const json& s, const std::string& path) {
    // Accepted when the branches are told apart by a property that each one fixes to a
    // different constant (a discriminated union): then "any of" is "exactly one of".
    const json& branches = s["oneOf"];
    std::map<std::string, std::set<std::string>> seen;  // property → constants
    std::set<std::string> common;
    bool first = true;
    for (const json& b0 : branches) {
      const json& b = b0.contains("$ref") ? resolve(b0["$ref"].get<std::string>(), path) : b0;
      std::set<std::string> fixed;
      if (b.contains("properties"))
        for (const auto& [k, v] : b["properties"].items()) {
          const bool is_const = v.contains("const") || (v.contains("enum") && v["enum"].size() == 1);
          const bool req = b.contains("required") && std::find(b["required"].begin(), b["required"].end(), k) != b["required"].end();
          if (is_const && req) {
            fixed.insert(k);
            seen[k].insert((v.contains("const") ? v["const"] : v["enum"][0]).dump());
          }
        }
      if (first) common = fixed;
      else {
        std::set<std::string> keep;
        for (const auto& k : common)
          if (fixed.count(k)) keep.insert(k);
        common = keep;
      }
      first = false;
    }
    const bool discriminated = std::any_of(common.begin(), common.end(), [&](const std::string& k) {
      return seen[k].size() == branches.size();
    });
    if (!discriminated)
      refuse(path, "'oneOf' is supported only for branches told apart by a required constant property; use anyOf");
    std::vector<Sequence> alts;
    for (size_t i = 0; i < branches.size(); ++i) alts.push_back({value(branches[i], path + "/oneOf/" + std::to_string(i))});
    return g_.choice(name(path) + "-oneof", alts);
  }

  static bool of_type(const json& v, const json& type) {
    if (type.is_array()) return std::any_of(type.begin(), type.end(), [&](const json& t) { return of_type(v, t); });
    const std::string t = type.is_string() ? type.get<std::string>() : "";
    return (t == "string" && v.is_string()) || (t == "integer" && v.is_number_integer()) || (t == "number" && v.is_number()) ||
           (t == "boolean" && v.is_boolean()) || (t == "null" && v.is_null()) || (t == "object" && v.is_object()) ||
           (t == "array" && v.is_array());
  }

  Element value(const json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (!s.get<bool>()) refuse(path, "the schema 'false' allows no value");
      return any_value();
    }
    if (!s.is_object()) refuse(path, "a schema must be an object or a boolean");
    for (const auto& [k, v] : s.items()) {
      static const std::set<std::string> known{
          "type", "properties", "required", "additionalProperties", "enum", "const", "items", "prefixItems",
          "additionalItems", "minItems", "maxItems", "minLength", "maxLength", "format", "minimum", "maximum",
          "exclusiveMinimum", "exclusiveMaximum", "$ref", "anyOf", "allOf", "oneOf", "uniqueItems", "pattern",
          "patternProperties", "propertyNames", "minProperties", "maxProperties", "dependentRequired",
          "dependentSchemas", "dependencies", "unevaluatedProperties", "nullable"};
      if (!known.count(k) && !annotations().count(k)) refuse(path, "'" + k + "' is not supported");
    }
    for (const char* k : {"not", "if", "then", "else", "contains", "multipleOf", "unevaluatedItems"})
      if (s.contains(k)) refuse(path, std::string("'") + k + "' is not supported");
    if (s.contains("$ref")) {
      if (s.size() > 1 && std::any_of(s.items().begin(), s.items().end(), [](const auto& kv) {
            return kv.key() != "$ref" && !annotations().count(kv.key());
          }))
        refuse(path, "'$ref' beside other keywords is not supported");
      const std::string ref = s["$ref"].get<std::string>();
      if (const auto it = refs_.find(ref); it != refs_.end()) return Grammar::ref(it->second);
      const int32_t r = g_.declare("ref " + ref);
      refs_.emplace(ref, r);
      g_.define(r, {{value(resolve(ref, path), ref)}});
      return Grammar::ref(r);
    }
    // An applicator or a list of values decides alone: a sibling that would narrow it
    // further (other than `type` beside enum/const, applied below) is refused, never dropped.
    for (const char* k : {"const", "enum", "anyOf", "oneOf", "allOf"}) {
      if (!s.contains(k)) continue;
      const bool values = std::string(k) == "const" || std::string(k) == "enum";
      for (const auto& [other, v] : s.items())
        if (other != k && !annotations().count(other) && !(values && other == "type"))
          refuse(path, "'" + other + "' beside '" + k + "' is not supported");
    }
    if (s.contains("const") || s.contains("enum")) {
      const json listed = s.contains("const") ? json::array({s["const"]}) : s["enum"];
      if (!listed.is_array() || listed.empty()) refuse(path, "'enum' must be a non-empty array");
      std::vector<Sequence> alts;
      for (const json& v : listed)
        if (!s.contains("type") || of_type(v, s["type"])) alts.push_back(g_.literal(v.dump()));
      if (alts.empty()) refuse(path, "no listed value has the schema's type");
      return g_.choice(name(path) + (s.contains("const") ? "-const" : "-enum"), alts);
    }
    if (s.contains("anyOf")) {
      std::vector<Sequence> alts;
      for (size_t i = 0; i < s["anyOf"].size(); ++i) alts.push_back({value(s["anyOf"][i], path + "/anyOf/" + std::to_string(i))});
      if (alts.empty()) refuse(path, "'anyOf' is empty");
      return g_.choice(name(path) + "-anyof", alts);
    }
    if (s.contains("oneOf")) return one_of(s, path);
    if (s.contains("allOf")) {
      if (s["allOf"].size() != 1) refuse(path, "'allOf' of more than one schema is not supported");
      return value(s["allOf"][0], path + "/allOf/0");
    }
    std::vector<std::string> types;
    if (s.contains("type")) {
      if (s["type"].is_string()) types.push_back(s["type"].get<std::string>());
      else
        for (const json& t : s["type"]) types.push_back(t.get<std::string>());
    } else {
      // No type: the types its keywords speak of (a value of another type would satisfy
      // them all; a model asked for `{"minimum": 1}` means a number, so the others are
      // left out — narrower, never looser).
      static const std::vector<std::pair<const char*, std::vector<const char*>>> implied = {
          {"object", {"properties", "additionalProperties", "required", "patternProperties", "propertyNames",
                      "minProperties", "maxProperties", "dependentRequired", "dependentSchemas", "dependencies",
                      "unevaluatedProperties"}},
          {"array", {"items", "prefixItems", "additionalItems", "minItems", "maxItems", "uniqueItems"}},
          {"string", {"minLength", "maxLength", "format", "pattern"}},
          {"number", {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}}};
      for (const auto& [type, keywords] : implied)
        if (std::any_of(keywords.begin(), keywords.end(), [&](const char* k) { return s.contains(k); })) types.push_back(type);
      if (types.empty()) return any_value();
    }
    if (s.value("nullable", false)) types.push_back("null");
    std::vector<Sequence> alts;
    for (const std::string& t : types) {
      if (t == "string") alts.push_back({string(s, path)});
      else if (t == "integer") alts.push_back({number(s, path, true)});
      else if (t == "number") alts.push_back({number(s, path, false)});
      else if (t == "boolean") alts.push_back({g_.choice("boolean", {g_.literal("true"), g_.literal("false")})});
      else if (t == "null") alts.push_back(g_.literal("null"));
      else if (t == "object") alts.push_back({object(s, path)});
      else if (t == "array") alts.push_back({array(s, path)});
      else refuse(path, "unknown type '" + t + "'");
    }
    if (alts.size() == 1 && alts[0].size() == 1) return alts[0][0];
    return g_.choice(name(path) + "-types", alts);
  }

  Grammar& g_;
  const json& root_;
  std::string where_;
  std::map<std::string, int32_t> refs_;
  int32_t ws_ = -1, char_ = -1, string_ = -1, natural_ = -1, fraction_ = -1, integer_ = -1, number_ = -1, any_ = -1;
};

}  // namespace

int32_t add_json_schema(Grammar& g, const json& schema, const std::string& where) {
  Compiler c(g, schema, where);
  try {
    return c.value_rule(schema, "");
  } catch (const json::exception& e) {
    fail("{}: {}", where, e.what());
  }
}

std::shared_ptr<Grammar> json_schema_grammar(const json& schema, const std::string& where) {
  auto g = std::make_shared<Grammar>();
  Compiler c(*g, schema, where);
  int32_t value = -1;
  try {
    value = c.value_rule(schema, "");
  } catch (const json::exception& e) {
    fail("{}: {}", where, e.what());
  }
  g->set_root(value);
  g->check();
  return g;
}

}  // namespace mlxcpp::grammar
