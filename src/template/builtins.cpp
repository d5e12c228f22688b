#include "template/builtins.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

#include "template/lexer.h"
#include "template/template_error.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace mlxcpp::jinja {
namespace {


std::shared_ptr<Callable> fn(std::string name, Function f) {
  auto c = std::make_shared<Callable>();
  c->name = std::move(name);
  c->fn = std::move(f);
  return c;
}

const Value* kwarg(const Kwargs& kw, const char* name) {
  for (const auto& [k, v] : kw)
    if (k == name) return &v;
  return nullptr;
}

Value arg(const Args& a, size_t i, const Kwargs& kw, const char* name, Value dflt = Undefined{}) {
  if (const Value* v = kwarg(kw, name)) return *v;
  return i < a.size() ? a[i] : dflt;
}


std::string strip_chars(const std::string& s, const Value& chars, bool left, bool right) {
  auto strip_it = [&](unsigned char c) {
    if (chars.is_string()) return chars.str().find(char(c)) != std::string::npos;
    return is_ascii_space(char(c));
  };
  size_t b = 0, e = s.size();
  if (left)
    while (b < e && strip_it(static_cast<unsigned char>(s[b]))) ++b;
  if (right)
    while (e > b && strip_it(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Python's str.split: by whitespace runs when sep is None, else by the exact separator.
List split(const std::string& s, const Value& sep, int64_t maxsplit) {
  List out;
  if (!sep.is_string()) {
    size_t i = 0;
    int64_t splits = 0;
    while (i < s.size()) {
      while (i < s.size() && is_ascii_space(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && splits == maxsplit) {
        std::string rest = s.substr(i);
        while (!rest.empty() && is_ascii_space(rest.back())) rest.pop_back();
        out.push_back(rest);
        return out;
      }
      size_t j = i;
      while (j < s.size() && !is_ascii_space(s[j])) ++j;
      out.push_back(s.substr(i, j - i));
      ++splits;
      i = j;
    }
    return out;
  }
  const std::string& d = sep.str();
  if (d.empty()) throw Error("empty separator");
  size_t start = 0;
  int64_t splits = 0;
  for (size_t p = s.find(d); p != std::string::npos && (maxsplit < 0 || splits < maxsplit); p = s.find(d, start)) {
    out.push_back(s.substr(start, p - start));
    start = p + d.size();
    ++splits;
  }
  out.push_back(s.substr(start));
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to, int64_t count) {
  if (from.empty()) {
    // Python inserts `to` between characters (and at both ends).
    std::string out = to;
    int64_t n = 0;
    for (size_t i = 0; i < s.size();) {
      const size_t len = utf8::char_len(s, i);
      out += s.substr(i, len);
      check_template_string(out.size() + to.size());
      i += len;
      if (count < 0 || ++n < count) out += to;
    }
    return out;
  }
  std::string out;
  size_t start = 0;
  int64_t n = 0;
  for (size_t p = s.find(from); p != std::string::npos && (count < 0 || n < count); p = s.find(from, start)) {
    out += s.substr(start, p - start) + to;
    check_template_string(out.size() + s.size() - p);
    start = p + from.size();
    ++n;
  }
  return out + s.substr(start);
}

std::string map_ascii(std::string s, int (*f)(int)) {
  for (auto& c : s)
    if (static_cast<unsigned char>(c) < 0x80) c = char(f(static_cast<unsigned char>(c)));
  return s;
}

std::string capitalize(const std::string& s) {
  std::string r = map_ascii(s, [](int c) { return std::tolower(c); });
  if (!r.empty() && static_cast<unsigned char>(r[0]) < 0x80) r[0] = char(std::toupper(static_cast<unsigned char>(r[0])));
  return r;
}

std::string title(const std::string& s) {
  std::string r = s;
  bool prev_alpha = false;
  for (auto& c : r) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      prev_alpha = true;
      continue;
    }
    c = char(prev_alpha ? std::tolower(u) : std::toupper(u));
    prev_alpha = std::isalpha(u) != 0;
  }
  return r;
}

int64_t py_len(const Value& v) {
  if (v.is_string()) {
    int64_t n = 0;
    for (size_t i = 0; i < v.str().size(); i += utf8::char_len(v.str(), i)) ++n;
    return n;
  }
  if (v.is_list()) return int64_t(v.list().size());
  if (v.is_dict()) return int64_t(v.dict().items.size());
  if (v.is_undefined()) return 0;
  throw Error("object of type '" + v.type_name() + "' has no len()");
}

Value method(const Value& obj, const std::string& name) {
  if (obj.is_string()) {
    const std::string s = obj.str();
    if (name == "strip" || name == "lstrip" || name == "rstrip")
      return fn(name, [s, name](const Args& a, const Kwargs&) -> Value {
        const Value chars = a.empty() ? Value(None{}) : a[0];
        return strip_chars(s, chars, name != "rstrip", name != "lstrip");
      });
    if (name == "split")
      return fn(name, [s](const Args& a, const Kwargs& kw) -> Value {
        const Value sep = arg(a, 0, kw, "sep", None{});
        const Value maxsplit = arg(a, 1, kw, "maxsplit", int64_t(-1));
        return split(s, sep, maxsplit.is_int() ? maxsplit.integer() : -1);
      });
    if (name == "startswith" || name == "endswith")
      return fn(name, [s, name](const Args& a, const Kwargs&) -> Value {
        if (a.empty()) throw Error(name + "() takes at least 1 argument");
        List options = a[0].is_list() ? a[0].list() : List{a[0]};
        for (const auto& o : options) {
          if (!o.is_string()) throw Error(name + " argument must be str");
          const std::string& p = o.str();
          if (name == "startswith" ? s.starts_with(p) : s.ends_with(p)) return true;
        }
        return false;
      });
    if (name == "replace")
      return fn(name, [s](const Args& a, const Kwargs&) -> Value {
        if (a.size() < 2 || !a[0].is_string() || !a[1].is_string()) throw Error("replace() takes two strings");
        return replace_all(s, a[0].str(), a[1].str(), a.size() > 2 && a[2].is_int() ? a[2].integer() : -1);
      });
    if (name == "upper") return fn(name, [s](const Args&, const Kwargs&) -> Value { return map_ascii(s, [](int c) { return std::toupper(c); }); });
    if (name == "lower") return fn(name, [s](const Args&, const Kwargs&) -> Value { return map_ascii(s, [](int c) { return std::tolower(c); }); });
    if (name == "title") return fn(name, [s](const Args&, const Kwargs&) -> Value { return title(s); });
    if (name == "capitalize") return fn(name, [s](const Args&, const Kwargs&) -> Value { return capitalize(s); });
    if (name == "find" || name == "count" || name == "index" || name == "rfind")
      return fn(name, [s, name](const Args& a, const Kwargs&) -> Value {
        if (a.empty() || !a[0].is_string()) throw Error(name + "() needs a string");
        const std::string& sub = a[0].str();
        if (name == "count") {
          if (sub.empty()) return py_len(Value(s)) + 1;
          int64_t n = 0;
          for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
          return n;
        }
        const size_t p = name == "rfind" ? s.rfind(sub) : s.find(sub);
        if (p == std::string::npos) {
          if (name == "index") throw Error("substring not found");
          return int64_t(-1);
        }
        return py_len(Value(s.substr(0, p)));
      });
    if (name == "join")
      return fn(name, [s](const Args& a, const Kwargs&) -> Value {
        if (a.empty()) throw Error("join() takes one argument");
        std::string out;
        const List items = to_list(a[0]);
        for (size_t i = 0; i < items.size(); ++i) {
          if (!items[i].is_string()) throw Error("sequence item " + std::to_string(i) + ": expected str instance");
          check_template_string(out.size() + s.size() + items[i].str().size());
          out += (i ? s : "") + items[i].str();
        }
        return out;
      });
    if (name == "splitlines")
      return fn(name, [s](const Args&, const Kwargs&) -> Value {
        List out;
        size_t start = 0;
        for (size_t i = 0; i < s.size(); ++i)
          if (s[i] == '\n' || s[i] == '\r') {
            out.push_back(s.substr(start, i - start));
            if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
            start = i + 1;
          }
        if (start < s.size()) out.push_back(s.substr(start));
        return out;
      });
    if (name == "isdigit" || name == "isalpha" || name == "isspace" || name == "isalnum")
      return fn(name, [s, name](const Args&, const Kwargs&) -> Value {
        if (s.empty()) return false;
        for (unsigned char c : s) {
          const bool ok = name == "isdigit" ? std::isdigit(c) : name == "isalpha" ? std::isalpha(c)
                          : name == "isspace" ? is_ascii_space(char(c)) : std::isalnum(c);
          if (!ok) return false;
        }
        return true;
      });
  }
  if (obj.is_dict()) {
    const Value self = obj;
    if (name == "items")
      return fn(name, [self](const Args&, const Kwargs&) -> Value {
        List out;
        for (const auto& [k, v] : self.dict().items) out.push_back(List{k, v});
        return out;
      });
    if (name == "keys")
      return fn(name, [self](const Args&, const Kwargs&) -> Value {
        List out;
        for (const auto& [k, v] : self.dict().items) out.push_back(k);
        return out;
      });
    if (name == "values")
      return fn(name, [self](const Args&, const Kwargs&) -> Value {
        List out;
        for (const auto& [k, v] : self.dict().items) out.push_back(v);
        return out;
      });
    if (name == "get")
      return fn(name, [self](const Args& a, const Kwargs&) -> Value {
        if (a.empty() || !a[0].is_string()) return a.size() > 1 ? a[1] : Value(None{});
        const Value* v = self.dict().find(a[0].str());
        return v ? *v : (a.size() > 1 ? a[1] : Value(None{}));
      });
  }
  if (obj.is_list()) {
    const Value self = obj;
    if (name == "index" || name == "count")
      return fn(name, [self, name](const Args& a, const Kwargs&) -> Value {
        if (a.empty()) throw Error(name + "() takes one argument");
        int64_t n = 0;
        for (size_t i = 0; i < self.list().size(); ++i)
          if (equals(self.list()[i], a[0])) {
            if (name == "index") return int64_t(i);
            ++n;
          }
        if (name == "index") throw Error("value is not in list");
        return n;
      });
    if (name == "append" || name == "extend" || name == "pop" || name == "insert" || name == "remove")
      throw Error("access to attribute '" + name + "' of 'list' object is unsafe (the sandbox forbids modifying lists)");
  }
  return Undefined{name};
}

}  // namespace

std::string undefined_name(const Value& v) {
  const auto* u = std::get_if<Undefined>(&v.v);
  return u && !u->name.empty() ? u->name : "value";
}

void install_globals(Dict& g) {
  g.set("raise_exception", Value(fn("raise_exception", [](const Args& a, const Kwargs&) -> Value {
          throw TemplateRaised(a.empty() ? std::string() : to_str(a[0]));
        })));
  g.set("strftime_now", Value(fn("strftime_now", [](const Args& a, const Kwargs&) -> Value {
          if (a.empty() || !a[0].is_string()) throw Error("strftime_now() takes a format string");
          const std::time_t t = std::time(nullptr);
          std::tm tm{};
          localtime_r(&t, &tm);
          char buf[256];
          const size_t n = std::strftime(buf, sizeof buf, a[0].str().c_str(), &tm);
          return std::string(buf, n);
        })));
  g.set("namespace", Value(fn("namespace", [](const Args& a, const Kwargs& kw) -> Value {
          auto ns = std::make_shared<Namespace>();
          if (!a.empty() && a[0].is_dict()) ns->attrs = a[0].dict();
          for (const auto& [k, v] : kw) ns->attrs.set(k, v);
          return Value(ns);
        })));
  g.set("range", Value(fn("range", [](const Args& a, const Kwargs&) -> Value {
          for (const auto& x : a)
            if (!x.is_int()) throw Error("range() arguments must be integers");
          int64_t start = 0, stop = 0, step = 1;
          if (a.size() == 1) stop = a[0].integer();
          else if (a.size() >= 2) {
            start = a[0].integer();
            stop = a[1].integer();
            if (a.size() > 2) step = a[2].integer();
          }
          if (step == 0) throw Error("range() step must not be zero");
          List out;
          for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            out.push_back(i);
            if (out.size() > 1'000'000) throw Error("range() is too large");
          }
          return out;
        })));
  g.set("dict", Value(fn("dict", [](const Args& a, const Kwargs& kw) -> Value {
          Dict d;
          if (!a.empty() && a[0].is_dict()) d = a[0].dict();
          for (const auto& [k, v] : kw) d.set(k, v);
          return d;
        })));
}

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_namespace()) {
    const Value* v = std::get<std::shared_ptr<Namespace>>(obj.v)->attrs.find(name);
    return v ? *v : Value(Undefined{name});
  }
  Value m = method(obj, name);
  if (!m.is_undefined()) return m;
  if (obj.is_dict()) {
    const Value* v = obj.dict().find(name);
    return v ? *v : Value(Undefined{name});
  }
  if (obj.is_list() && !name.empty() && name.size() < 18 && std::all_of(name.begin(), name.end(), ::isdigit))
    return get_item(obj, Value(int64_t(std::stoll(name))));
  return Undefined{name};
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_dict()) {
    if (key.is_string()) {
      if (const Value* v = obj.dict().find(key.str())) return *v;
      return Undefined{key.str()};
    }
    return Undefined{to_str(key)};
  }
  if (obj.is_list() || obj.is_string()) {
    if (!key.is_int()) {
      if (key.is_string()) return get_attr(obj, key.str());
      throw Error("indices must be integers, not " + key.type_name());
    }
    if (obj.is_list()) {
      const int64_t n = int64_t(obj.list().size());
      int64_t i = key.integer();
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Undefined{"index " + std::to_string(key.integer())};
      return obj.list()[size_t(i)];
    }
    const List chars = to_list(obj);
    const int64_t n = int64_t(chars.size());
    int64_t i = key.integer();
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Undefined{"index"};
    return chars[size_t(i)];
  }
  if (obj.is_namespace() && key.is_string()) return get_attr(obj, key.str());
  if (obj.is_undefined()) throw Error("'" + undefined_name(obj) + "' is undefined");
  return Undefined{to_str(key)};
}

Value slice(const Value& obj, std::optional<int64_t> start, std::optional<int64_t> stop, std::optional<int64_t> step) {
  const bool is_str = obj.is_string();
  if (!is_str && !obj.is_list()) throw Error("'" + obj.type_name() + "' object is not subscriptable");
  const List items = is_str ? to_list(obj) : obj.list();
  const int64_t n = int64_t(items.size());
  const int64_t st = step.value_or(1);
  if (st == 0) throw Error("slice step cannot be zero");
  auto clamp_index = [&](std::optional<int64_t> v, int64_t dflt, int64_t lo, int64_t hi) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) x += n;
    return std::clamp(x, lo, hi);
  };
  int64_t b, e;
  if (st > 0) {
    b = clamp_index(start, 0, 0, n);
    e = clamp_index(stop, n, 0, n);
  } else {
    b = clamp_index(start, n - 1, -1, n - 1);
    e = clamp_index(stop, -1, -1, n - 1);
  }
  List out;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) out.push_back(items[size_t(i)]);
  if (!is_str) return out;
  std::string s;
  for (const auto& c : out) s += c.str();
  return s;
}

bool contains(const Value& c, const Value& item) {
  if (c.is_string()) {
    if (!item.is_string()) throw Error("'in <string>' requires string as left operand");
    return c.str().find(item.str()) != std::string::npos;
  }
  if (c.is_list()) {
    for (const auto& x : c.list())
      if (equals(x, item)) return true;
    return false;
  }
  if (c.is_dict()) return item.is_string() && c.dict().find(item.str()) != nullptr;
  if (c.is_undefined()) return false;
  throw Error("argument of type '" + c.type_name() + "' is not iterable");
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      check_template_string(a.str().size() + b.str().size());
      return a.str() + b.str();
    }
    if (a.is_list() && b.is_list()) {
      List l = a.list();
      l.insert(l.end(), b.list().begin(), b.list().end());
      return l;
    }
  }
  if (op == "*" && ((a.is_string() && b.is_int()) || (a.is_int() && b.is_string()))) {
    const std::string& s = a.is_string() ? a.str() : b.str();
    const int64_t n = a.is_int() ? a.integer() : b.integer();
    if (n > 0) check_template_string(s.size() * uint64_t(n));
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += s;
    return out;
  }
  const bool num_a = a.is_number() || a.is_bool(), num_b = b.is_number() || b.is_bool();
  if (!num_a || !num_b)
    throw Error("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
  const bool ints = (a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool());
  const double x = a.number(), y = b.number();
  if (ints) {
    const int64_t i = a.is_bool() ? int64_t(std::get<bool>(a.v)) : a.integer();
    const int64_t j = b.is_bool() ? int64_t(std::get<bool>(b.v)) : b.integer();
    int64_t r;
    if (op == "+" && !__builtin_add_overflow(i, j, &r)) return r;
    if (op == "-" && !__builtin_sub_overflow(i, j, &r)) return r;
    if (op == "*" && !__builtin_mul_overflow(i, j, &r)) return r;
    if (op == "+" || op == "-" || op == "*") throw Error("integer overflow in " + op);
    if (op == "//" || op == "%") {
      if (j == 0) throw Error("integer division or modulo by zero");
      if (i == INT64_MIN && j == -1) throw Error("integer overflow in " + op);
      int64_t q = i / j, r = i % j;
      if (r != 0 && ((r < 0) != (j < 0))) {
        --q;
        r += j;
      }
      return op == "//" ? q : r;
    }
    if (op == "**" && j >= 0) {
      int64_t p = 1;
      for (int64_t k = 0; k < j; ++k) {
        if (__builtin_mul_overflow(p, i, &p)) throw Error("integer overflow in **");
        if (p == 0 || p == 1 || (p == -1 && k > 64)) break;  // the result can no longer change magnitude
      }
      return (p == -1 && (j % 2 == 0)) ? int64_t(1) : p;
    }
  }
  if (op == "+") return x + y;
  if (op == "-") return x - y;
  if (op == "*") return x * y;
  if (op == "/") {
    if (y == 0) throw Error("division by zero");
    return x / y;
  }
  if (op == "//") {
    if (y == 0) throw Error("float floor division by zero");
    return std::floor(x / y);
  }
  if (op == "%") {
    if (y == 0) throw Error("float modulo");
    double r = std::fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
  }
  if (op == "**") return std::pow(x, y);
  throw Error("unknown operator " + op);
}

List to_list(const Value& v) {
  if (v.is_list()) return v.list();
  if (v.is_dict()) {
    List out;
    for (const auto& [k, _] : v.dict().items) out.push_back(k);
    return out;
  }
  if (v.is_string()) {
    List out;
    const std::string& s = v.str();
    for (size_t i = 0; i < s.size();) {
      const size_t n = utf8::char_len(s, i);
      out.push_back(s.substr(i, n));
      i += n;
    }
    return out;
  }
  if (v.is_undefined() || v.is_none()) {
    if (v.is_none()) throw Error("'NoneType' object is not iterable");
    return {};
  }
  throw Error("'" + v.type_name() + "' object is not iterable");
}

bool apply_test(const std::string& name, const Args& a) {
  const Value& v = a[0];
  auto other = [&]() -> const Value& {
    if (a.size() < 2) throw Error("test '" + name + "' needs an argument");
    return a[1];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && std::get<bool>(v.v);
  if (name == "false") return v.is_bool() && !std::get<bool>(v.v);
  if (name == "mapping") return v.is_dict();
  // jinja2's Undefined is iterable (it iterates as empty).
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_string() || v.is_dict();
  if (name == "callable") return v.is_callable();
  if (name == "even" || name == "odd") {
    if (!v.is_int()) throw Error("test '" + name + "' needs an integer");
    return (v.integer() % 2 == 0) == (name == "even");
  }
  if (name == "divisibleby") return other().is_int() && other().integer() != 0 && v.is_int() && v.integer() % other().integer() == 0;
  if (name == "eq" || name == "equalto" || name == "==") return equals(v, other());
  if (name == "ne" || name == "!=") return !equals(v, other());
  if (name == "lt" || name == "lessthan" || name == "<") return compare(v, other()) < 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return compare(v, other()) > 0;
  if (name == "le" || name == "<=") return compare(v, other()) <= 0;
  if (name == "ge" || name == ">=") return compare(v, other()) >= 0;
  if (name == "in") return contains(other(), v);
  if (name == "sameas") return equals(v, other()) && v.v.index() == other().v.index();
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    for (unsigned char c : v.str())
      if (std::isalpha(c) && (name == "lower" ? std::isupper(c) : std::islower(c))) return false;
    return true;
  }
  throw Error("no test named '" + name + "'");
}

Value apply_filter(const std::string& name, const Args& a, const Kwargs& kw, const FilterCall& call) {
  const Value& v = a[0];
  if (name == "trim") return strip_chars(to_str(v), a.size() > 1 ? a[1] : Value(None{}), true, true);
  if (name == "tojson") {
    const Value indent = arg(a, 1, kw, "indent", None{});
    const Value sort = arg(a, 2, kw, "sort_keys", false);
    return to_json(v, indent.is_int() ? int(indent.integer()) : -1, sort.truthy());
  }
  if (name == "length" || name == "count") return py_len(v);
  if (name == "string") return to_str(v);
  if (name == "upper") return map_ascii(to_str(v), [](int c) { return std::toupper(c); });
  if (name == "lower") return map_ascii(to_str(v), [](int c) { return std::tolower(c); });
  if (name == "title") return title(to_str(v));
  if (name == "capitalize") return capitalize(to_str(v));
  if (name == "safe" || name == "e" || name == "escape") {
    if (name == "safe") return v;
    std::string out;
    for (char c : to_str(v)) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
      }
    }
    return out;
  }
  if (name == "replace") {
    if (a.size() < 3) throw Error("replace filter needs two arguments");
    return replace_all(to_str(v), to_str(a[1]), to_str(a[2]), a.size() > 3 && a[3].is_int() ? a[3].integer() : -1);
  }
  if (name == "items") {
    if (v.is_undefined()) return List{};
    if (!v.is_dict()) throw Error("items filter needs a mapping");
    List out;
    for (const auto& [k, x] : v.dict().items) out.push_back(List{k, x});
    return out;
  }
  if (name == "list") return to_list(v);
  if (name == "first" || name == "last") {
    const List l = to_list(v);
    if (l.empty()) return Undefined{name};
    return name == "first" ? l.front() : l.back();
  }
  if (name == "reverse") {
    if (v.is_string()) return slice(v, std::nullopt, std::nullopt, -1);
    List l = to_list(v);
    std::reverse(l.begin(), l.end());
    return l;
  }
  if (name == "join") {
    const std::string sep = a.size() > 1 ? to_str(a[1]) : to_str(arg(a, 1, kw, "d", std::string()));
    const Value attr = arg(a, 2, kw, "attribute", None{});
    std::string out;
    const List l = to_list(v);
    for (size_t i = 0; i < l.size(); ++i) {
      const Value item = attr.is_string() ? get_attr(l[i], attr.str()) : l[i];
      const std::string piece = to_str(item);
      check_template_string(out.size() + sep.size() + piece.size());
      out += (i ? sep : "") + piece;
    }
    return out;
  }
  if (name == "int") {
    if (v.is_int()) return v;
    if (v.is_float()) return int64_t(v.number());
    if (v.is_bool()) return int64_t(std::get<bool>(v.v));
    if (v.is_string()) {
      try {
        return int64_t(std::stoll(v.str()));
      } catch (...) {
        return arg(a, 1, kw, "default", int64_t(0));
      }
    }
    return arg(a, 1, kw, "default", int64_t(0));
  }
  if (name == "float") {
    if (v.is_number() || v.is_bool()) return v.number();
    if (v.is_string()) {
      try {
        return std::stod(v.str());
      } catch (...) {
        return 0.0;
      }
    }
    return 0.0;
  }
  if (name == "abs") {
    if (v.is_int()) {
      if (v.integer() == INT64_MIN) throw Error("integer overflow in abs");
      return v.integer() < 0 ? -v.integer() : v.integer();
    }
    return std::abs(v.number());
  }
  if (name == "round") {
    const Value prec = arg(a, 1, kw, "precision", int64_t(0));
    const double m = std::pow(10.0, double(prec.is_int() ? prec.integer() : 0));
    return std::nearbyint(v.number() * m) / m;
  }
  if (name == "unique") {
    List out;
    for (const auto& x : to_list(v))
      if (std::none_of(out.begin(), out.end(), [&](const Value& y) { return equals(x, y); })) out.push_back(x);
    return out;
  }
  if (name == "sort") {
    List l = to_list(v);
    const bool rev = arg(a, 1, kw, "reverse", false).truthy();
    const Value attr = arg(a, 3, kw, "attribute", None{});
    std::stable_sort(l.begin(), l.end(), [&](const Value& x, const Value& y) {
      const Value kx = attr.is_string() ? get_attr(x, attr.str()) : x, ky = attr.is_string() ? get_attr(y, attr.str()) : y;
      return rev ? compare(kx, ky) > 0 : compare(kx, ky) < 0;
    });
    return l;
  }
  if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
    const bool by_attr = name.ends_with("attr");
    const bool keep_match = name.starts_with("select");
    const size_t test_at = by_attr ? 2 : 1;
    List out;
    for (const auto& item : to_list(v)) {
      const Value subject = by_attr ? get_attr(item, to_str(a.at(1))) : item;
      bool ok;
      if (a.size() > test_at) {
        Args targs{subject};
        targs.insert(targs.end(), a.begin() + long(test_at) + 1, a.end());
        ok = apply_test(to_str(a[test_at]), targs);
      } else {
        ok = subject.truthy();
      }
      if (ok == keep_match) out.push_back(item);
    }
    return out;
  }
  if (name == "map") {
    List out;
    const Value* attribute = kwarg(kw, "attribute");
    const Value* dflt = kwarg(kw, "default");
    for (const auto& item : to_list(v)) {
      if (attribute) {
        Value x = get_attr(item, to_str(*attribute));
        if (x.is_undefined() && dflt) x = *dflt;
        out.push_back(x);
      } else {
        if (a.size() < 2) throw Error("map filter needs a filter name or attribute=");
        Args fargs{item};
        fargs.insert(fargs.end(), a.begin() + 2, a.end());
        out.push_back(call ? call(to_str(a[1]), fargs) : apply_filter(to_str(a[1]), fargs, {}, nullptr));
      }
    }
    return out;
  }
  if (name == "indent") {
    const int64_t width = arg(a, 1, kw, "width", int64_t(4)).is_int() ? arg(a, 1, kw, "width", int64_t(4)).integer() : 4;
    const bool first = arg(a, 2, kw, "first", false).truthy();
    const bool blank = arg(a, 3, kw, "blank", false).truthy();
    const std::string pad(size_t(width), ' ');
    const std::string s = to_str(v);
    std::string out;
    size_t start = 0;
    bool first_line = true;
    while (start <= s.size()) {
      const size_t nl = s.find('\n', start);
      const std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      if ((first_line && first) || (!first_line && (blank || !line.empty()))) out += pad;
      out += line;
      if (nl == std::string::npos) break;
      out += '\n';
      start = nl + 1;
      first_line = false;
    }
    return out;
  }
  if (name == "wordcount") return int64_t(split(to_str(v), None{}, -1).size());
  if (name == "min" || name == "max") {
    const List l = to_list(v);
    if (l.empty()) return Undefined{name};
    Value best = l[0];
    for (const auto& x : l)
      if (name == "min" ? compare(x, best) < 0 : compare(x, best) > 0) best = x;
    return best;
  }
  if (name == "sum") {
    Value total = int64_t(0);
    for (const auto& x : to_list(v)) total = arithmetic("+", total, x);
    return total;
  }
  if (name == "dictsort") {
    if (!v.is_dict()) throw Error("dictsort needs a mapping");
    List out;
    for (const auto& [k, x] : v.dict().items) out.push_back(List{k, x});
    std::stable_sort(out.begin(), out.end(), [](const Value& x, const Value& y) { return x.list()[0].str() < y.list()[0].str(); });
    return out;
  }
  throw Error("no filter named '" + name + "'");
}

}  // namespace mlxcpp::jinja
