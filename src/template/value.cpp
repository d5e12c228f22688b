#include "template/value.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace mlxcpp::jinja {

const Value* Dict::find(const std::string& key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

Value* Dict::find(const std::string& key) {
  for (auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void Dict::set(const std::string& key, Value v) {
  if (Value* p = find(key)) *p = std::move(v);
  else items.emplace_back(key, std::move(v));
}

bool Value::truthy() const {
  return std::visit(
      [](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Undefined> || std::is_same_v<T, None>) return false;
        else if constexpr (std::is_same_v<T, bool>) return x;
        else if constexpr (std::is_same_v<T, int64_t>) return x != 0;
        else if constexpr (std::is_same_v<T, double>) return x != 0.0;
        else if constexpr (std::is_same_v<T, std::string>) return !x.empty();
        else if constexpr (std::is_same_v<T, std::shared_ptr<List>>) return !x->empty();
        else if constexpr (std::is_same_v<T, std::shared_ptr<Dict>>) return !x->items.empty();
        else return true;
      },
      v);
}

std::string Value::type_name() const {
  switch (v.index()) {
    case 0: return "undefined";
    case 1: return "NoneType";
    case 2: return "bool";
    case 3: return "int";
    case 4: return "float";
    case 5: return "str";
    case 6: return "list";
    case 7: return "dict";
    case 8: return "function";
    default: return "Namespace";
  }
}

std::string python_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // Shortest digits that round-trip, then Python's layout: fixed notation when the
  // decimal exponent is in [-4, 16), scientific otherwise.
  char buf[64];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s(buf);
  const auto epos = s.find('e');
  std::string mant = s.substr(0, epos);
  const int exp = std::atoi(s.c_str() + epos + 1);
  bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out = "0." + std::string(size_t(-exp - 1), '0') + digits;
    } else if (size_t(exp) + 1 >= digits.size()) {
      out = digits + std::string(size_t(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, size_t(exp) + 1) + "." + digits.substr(size_t(exp) + 1);
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exp < 0 ? '-' : '+', std::abs(exp));
  }
  return neg ? "-" + out : out;
}

namespace {

std::string repr_string(const std::string& s) {
  const bool use_double = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = use_double ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == q) out += std::string("\\") + char(q);
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += char(c);
  }
  return out + q;
}

}  // namespace

namespace {
constexpr int kMaxValueDepth = 128;  // deeper values come only from hostile input
void check_depth(int depth) {
  if (depth > kMaxValueDepth) fail("value nested deeper than {} levels", kMaxValueDepth);
}
std::string repr_at(const Value& v, int depth);
}  // namespace

std::string to_repr(const Value& v) { return repr_at(v, 0); }

namespace {
std::string repr_at(const Value& v, int depth) {
  check_depth(depth);
  if (v.is_string()) return repr_string(v.str());
  if (v.is_list()) {
    std::string out = "[";
    for (size_t i = 0; i < v.list().size(); ++i) out += (i ? ", " : "") + repr_at(v.list()[i], depth + 1);
    return out + "]";
  }
  if (v.is_dict()) {
    std::string out = "{";
    bool first = true;
    for (const auto& [k, x] : v.dict().items) {
      out += (first ? "" : ", ") + repr_string(k) + ": " + repr_at(x, depth + 1);
      first = false;
    }
    return out + "}";
  }
  return to_str(v);
}
}  // namespace

std::string to_str(const Value& v) {
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Undefined>) return "";
        else if constexpr (std::is_same_v<T, None>) return "None";
        else if constexpr (std::is_same_v<T, bool>) return x ? "True" : "False";
        else if constexpr (std::is_same_v<T, int64_t>) return std::to_string(x);
        else if constexpr (std::is_same_v<T, double>) return python_float_repr(x);
        else if constexpr (std::is_same_v<T, std::string>) return x;
        else if constexpr (std::is_same_v<T, std::shared_ptr<Callable>>) return "<function " + x->name + ">";
        else if constexpr (std::is_same_v<T, std::shared_ptr<Namespace>>) return "<Namespace>";
        else return to_repr(v);
      },
      v.v);
}

namespace {
bool equals_at(const Value& a, const Value& b, int depth);
}
bool equals(const Value& a, const Value& b) { return equals_at(a, b, 0); }
namespace {
bool equals_at(const Value& a, const Value& b, int depth) {
  check_depth(depth);
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) return a.number() == b.number();
  if (a.is_string() && b.is_string()) return a.str() == b.str();
  if (a.is_none() && b.is_none()) return true;
  if (a.is_undefined() && b.is_undefined()) return true;
  if (a.is_list() && b.is_list()) {
    if (a.list().size() != b.list().size()) return false;
    for (size_t i = 0; i < a.list().size(); ++i)
      if (!equals_at(a.list()[i], b.list()[i], depth + 1)) return false;
    return true;
  }
  if (a.is_dict() && b.is_dict()) {
    if (a.dict().items.size() != b.dict().items.size()) return false;
    for (const auto& [k, x] : a.dict().items) {
      const Value* y = b.dict().find(k);
      if (!y || !equals_at(x, *y, depth + 1)) return false;
    }
    return true;
  }
  if (a.is_namespace() && b.is_namespace()) return std::get<std::shared_ptr<Namespace>>(a.v) == std::get<std::shared_ptr<Namespace>>(b.v);
  return false;
}
}  // namespace

namespace {
int compare_at(const Value& a, const Value& b, int depth);
}
int compare(const Value& a, const Value& b) { return compare_at(a, b, 0); }
namespace {
int compare_at(const Value& a, const Value& b, int depth) {
  check_depth(depth);
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool()))
    return a.number() < b.number() ? -1 : a.number() > b.number() ? 1 : 0;
  if (a.is_string() && b.is_string()) return a.str() < b.str() ? -1 : a.str() > b.str() ? 1 : 0;
  if (a.is_list() && b.is_list()) {
    const auto &x = a.list(), &y = b.list();
    for (size_t i = 0; i < std::min(x.size(), y.size()); ++i)
      if (int c = compare_at(x[i], y[i], depth + 1)) return c;
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  fail("'<' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name());
}
}  // namespace

template <typename J>
Value from_json_impl(const J& j, int depth = 0) {
  check_depth(depth);
  switch (j.type()) {
    case nlohmann::json::value_t::null: return None{};
    case nlohmann::json::value_t::boolean: return j.template get<bool>();
    case nlohmann::json::value_t::number_integer: return j.template get<int64_t>();
    case nlohmann::json::value_t::number_unsigned: return int64_t(j.template get<uint64_t>());
    case nlohmann::json::value_t::number_float: return j.template get<double>();
    case nlohmann::json::value_t::string: return j.template get<std::string>();
    case nlohmann::json::value_t::array: {
      List l;
      for (const auto& x : j) l.push_back(from_json_impl(x, depth + 1));
      return l;
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (const auto& [k, x] : j.items()) d.items.emplace_back(k, from_json_impl(x, depth + 1));
      return d;
    }
    default: return Undefined{};
  }
}

Value from_json(const nlohmann::json& j) { return from_json_impl(j); }
Value from_json(const nlohmann::ordered_json& j) { return from_json_impl(j); }

namespace {

void json_string(const std::string& s, std::string& out) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) out += fmt::format("\\u{:04x}", c);
        else out += char(c);
    }
  }
  out += '"';
}

void json_dump(const Value& v, int indent, bool sort_keys, int depth, std::string& out) {
  check_depth(depth);
  const std::string nl = indent >= 0 ? "\n" + std::string(size_t(indent * (depth + 1)), ' ') : "";
  const std::string nl_end = indent >= 0 ? "\n" + std::string(size_t(indent * depth), ' ') : "";
  const std::string item_sep = indent >= 0 ? "," : ", ";
  if (v.is_string()) json_string(v.str(), out);
  else if (v.is_none() || v.is_undefined()) out += "null";
  else if (v.is_bool()) out += std::get<bool>(v.v) ? "true" : "false";
  else if (v.is_int()) out += std::to_string(v.integer());
  else if (v.is_float()) {
    const double d = std::get<double>(v.v);
    out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity") : python_float_repr(d);
  } else if (v.is_list()) {
    if (v.list().empty()) {
      out += "[]";
      return;
    }
    out += "[";
    for (size_t i = 0; i < v.list().size(); ++i) {
      out += (i ? item_sep : "") + nl;
      json_dump(v.list()[i], indent, sort_keys, depth + 1, out);
    }
    out += nl_end + "]";
  } else if (v.is_dict() || v.is_namespace()) {
    const Dict& d = v.is_dict() ? v.dict() : std::get<std::shared_ptr<Namespace>>(v.v)->attrs;
    if (d.items.empty()) {
      out += "{}";
      return;
    }
    std::vector<const std::pair<std::string, Value>*> items;
    for (const auto& kv : d.items) items.push_back(&kv);
    if (sort_keys) std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
    out += "{";
    for (size_t i = 0; i < items.size(); ++i) {
      out += (i ? item_sep : "") + nl;
      json_string(items[i]->first, out);
      out += ": ";
      json_dump(items[i]->second, indent, sort_keys, depth + 1, out);
    }
    out += nl_end + "}";
  } else {
    fail("Object of type {} is not JSON serializable", v.type_name());
  }
}

}  // namespace

std::string to_json(const Value& v, int indent, bool sort_keys) {
  std::string out;
  json_dump(v, indent, sort_keys, 0, out);
  return out;
}

}  // namespace mlxcpp::jinja
