// Values of the Jinja2 subset that chat templates use, with Python semantics for
// truthiness, equality, ordering and str()/repr(), so output matches Python's jinja2.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace mlxcpp::jinja {

struct Value;
using List = std::vector<Value>;
// Insertion-ordered string-keyed mapping (JSON objects, dict literals, namespaces).
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(const std::string& key) const;
  Value* find(const std::string& key);
  void set(const std::string& key, Value v);
};
struct Value;
using Args = std::vector<Value>;
using Kwargs = std::vector<std::pair<std::string, Value>>;
using Function = std::function<Value(const Args&, const Kwargs&)>;

struct Undefined {
  std::string name;  // what was looked up, for error messages
};
struct None {};
struct Callable {
  std::string name;
  Function fn;
};
struct Namespace {
  Dict attrs;  // mutable through {% set ns.x = ... %}
};

struct Value {
  std::variant<Undefined, None, bool, int64_t, double, std::string, std::shared_ptr<List>, std::shared_ptr<Dict>,
               std::shared_ptr<Callable>, std::shared_ptr<Namespace>>
      v;

  Value() : v(Undefined{}) {}
  Value(None) : v(None{}) {}
  Value(Undefined u) : v(std::move(u)) {}
  Value(bool b) : v(b) {}
  Value(int i) : v(int64_t(i)) {}
  Value(int64_t i) : v(i) {}
  Value(double d) : v(d) {}
  Value(std::string s) : v(std::move(s)) {}
  Value(const char* s) : v(std::string(s)) {}
  Value(List l) : v(std::make_shared<List>(std::move(l))) {}
  Value(Dict d) : v(std::make_shared<Dict>(std::move(d))) {}
  Value(std::shared_ptr<Callable> c) : v(std::move(c)) {}
  Value(std::shared_ptr<Namespace> n) : v(std::move(n)) {}

  bool is_undefined() const { return std::holds_alternative<Undefined>(v); }
  bool is_none() const { return std::holds_alternative<None>(v); }
  bool is_bool() const { return std::holds_alternative<bool>(v); }
  bool is_int() const { return std::holds_alternative<int64_t>(v); }
  bool is_float() const { return std::holds_alternative<double>(v); }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return std::holds_alternative<std::string>(v); }
  bool is_list() const { return std::holds_alternative<std::shared_ptr<List>>(v); }
  bool is_dict() const { return std::holds_alternative<std::shared_ptr<Dict>>(v); }
  bool is_callable() const { return std::holds_alternative<std::shared_ptr<Callable>>(v); }
  bool is_namespace() const { return std::holds_alternative<std::shared_ptr<Namespace>>(v); }

  const std::string& str() const { return std::get<std::string>(v); }
  const List& list() const { return *std::get<std::shared_ptr<List>>(v); }
  const Dict& dict() const { return *std::get<std::shared_ptr<Dict>>(v); }
  double number() const { return is_int() ? double(std::get<int64_t>(v)) : is_bool() ? double(std::get<bool>(v)) : std::get<double>(v); }
  int64_t integer() const { return std::get<int64_t>(v); }

  bool truthy() const;
  std::string type_name() const;  // Python's type name, for errors
};

std::string to_str(const Value& v);   // Python str()
std::string to_repr(const Value& v);  // Python repr()
bool equals(const Value& a, const Value& b);
// Python ordering; throws TemplateError-like Error for unorderable types.
int compare(const Value& a, const Value& b);
std::string python_float_repr(double d);
Value from_json(const nlohmann::json& j);
// Key order matters for output (tojson, dict printing): ordered JSON keeps the source order.
Value from_json(const nlohmann::ordered_json& j);
// Python json.dumps(ensure_ascii=False) with the given indent (-1: none) as transformers' tojson.
std::string to_json(const Value& v, int indent, bool sort_keys = false);

}  // namespace mlxcpp::jinja
