// The syntax tree of a parsed template.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/value.h"

namespace mlxcpp::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum Kind {
    Literal,   // value
    Name,      // name
    ListLit,   // args
    DictLit,   // kwargs-like pairs in `pairs`
    Attr,      // a.name
    Index,     // a[b]
    Slice,     // a[b:c:d] (null parts allowed)
    Call,      // a(args, kwargs)
    Filter,    // a | name(args, kwargs)
    Test,      // a is [not] name(args)
    Unary,     // name in {"-", "+", "not"}
    Binary,    // a name b, name an operator or "and"/"or"/"in"/"not in"
    Ternary,   // b if a else c
  } kind;
  int line = 0, col = 0;
  Value value;
  std::string name;
  ExprPtr a, b, c, d;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::pair<ExprPtr, ExprPtr>> pairs;
  bool negated = false;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum Kind { Text, Output, If, For, Set, SetBlock, Macro, CallBlock, Break, Continue, FilterBlock } kind;
  int line = 0, col = 0;
  std::string text;                              // Text; Set/SetBlock/Macro name; FilterBlock filter
  ExprPtr expr;                                  // Output value; Set value; For iterable; CallBlock call
  ExprPtr target_obj;                            // Set: namespace object for `set ns.attr = ...`
  std::vector<std::string> targets;              // Set / For loop variables
  std::vector<std::pair<ExprPtr, Body>> branches;  // If: (condition, body)...
  Body body, else_body;
  ExprPtr cond;                                  // For: inline filter `for x in y if cond`
  std::vector<std::pair<std::string, ExprPtr>> params;  // Macro parameters with defaults
};

}  // namespace mlxcpp::jinja
