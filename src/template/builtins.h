// Jinja2's built-in filters, tests, globals, and the Python methods of str / dict / list
// that chat templates call, plus attribute/item access and operators.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "template/value.h"

namespace mlxcpp::jinja {

void install_globals(Dict& globals);  // raise_exception, strftime_now, namespace, range, dict

Value get_attr(const Value& obj, const std::string& name);  // attribute first, then item (jinja2 getattr)
Value get_item(const Value& obj, const Value& key);         // item first, then attribute
Value slice(const Value& obj, std::optional<int64_t> start, std::optional<int64_t> stop, std::optional<int64_t> step);
bool contains(const Value& container, const Value& item);
Value arithmetic(const std::string& op, const Value& a, const Value& b);
List to_list(const Value& v);  // iteration: list items, dict keys, string characters
std::string undefined_name(const Value& v);

// `call_filter` lets filters such as map(name) apply other filters.
using FilterCall = std::function<Value(const std::string&, const Args&)>;
Value apply_filter(const std::string& name, const Args& args, const Kwargs& kwargs, const FilterCall& call_filter);
bool apply_test(const std::string& name, const Args& args);

}  // namespace mlxcpp::jinja
