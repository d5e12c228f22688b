#include "template/interpreter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>

#include "template/builtins.h"
#include "template/parser.h"
#include "template/template_error.h"

namespace mlxcpp::jinja {
namespace {

struct BreakSignal {};
struct ContinueSignal {};

class Renderer {
 public:
  explicit Renderer(const Dict& globals) {
    frames_.emplace_back();
    for (const auto& [k, v] : globals.items) frames_.back().set(k, v);
    install_globals(frames_.front());
  }

  void render(const Body& body, std::string& out) {
    for (const auto& n : body) exec(*n, out);
  }

 private:
  Value lookup(const std::string& name) const {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it)
      if (const Value* v = it->find(name)) return *v;
    return Undefined{name};
  }
  void assign(const std::string& name, Value v) { frames_.back().set(name, std::move(v)); }

  [[noreturn]] static void fail_at(const Expr& e, const std::string& what) { throw TemplateError(e.line, e.col, what); }
  [[noreturn]] static void fail_at(const Node& n, const std::string& what) { throw TemplateError(n.line, n.col, what); }

  Value eval(const Expr& e) {
    try {
      Value v = eval_inner(e);
      if (v.is_string()) check_template_string(v.str().size());  // whatever built it
      return v;
    } catch (const TemplateError&) {
      throw;
    } catch (const TemplateRaised&) {
      throw;
    } catch (const Error& err) {
      fail_at(e, err.what());
    }
  }

  Value eval_inner(const Expr& e) {
    switch (e.kind) {
      case Expr::Literal: return e.value;
      case Expr::Name: return lookup(e.name);
      case Expr::ListLit: {
        List l;
        for (const auto& a : e.args) l.push_back(eval(*a));
        return l;
      }
      case Expr::DictLit: {
        Dict d;
        for (const auto& [k, v] : e.pairs) {
          const Value key = eval(*k);
          if (!key.is_string()) fail_at(*k, "dict keys must be strings here");
          d.set(key.str(), eval(*v));
        }
        return d;
      }
      case Expr::Attr: {
        const Value obj = eval(*e.a);
        if (obj.is_undefined()) fail_at(e, "'" + undefined_name(obj) + "' is undefined");
        return get_attr(obj, e.name);
      }
      case Expr::Index: {
        const Value obj = eval(*e.a);
        if (obj.is_undefined()) fail_at(e, "'" + undefined_name(obj) + "' is undefined");
        return get_item(obj, eval(*e.b));
      }
      case Expr::Slice: {
        const Value obj = eval(*e.a);
        auto opt = [&](const ExprPtr& p) -> std::optional<int64_t> {
          if (!p) return std::nullopt;
          const Value v = eval(*p);
          if (v.is_none()) return std::nullopt;
          if (!v.is_int()) fail_at(*p, "slice indices must be integers");
          return v.integer();
        };
        return slice(obj, opt(e.b), opt(e.c), opt(e.d));
      }
      case Expr::Call: {
        // Macros and builtins; `caller` inside call blocks.
        const Value fn = eval(*e.a);
        Args args;
        Kwargs kwargs;
        for (const auto& a : e.args) args.push_back(eval(*a));
        for (const auto& [k, v] : e.kwargs) kwargs.emplace_back(k, eval(*v));
        if (!fn.is_callable()) {
          if (fn.is_undefined()) fail_at(e, "'" + undefined_name(fn) + "' is undefined");
          fail_at(e, "'" + fn.type_name() + "' object is not callable");
        }
        return std::get<std::shared_ptr<Callable>>(fn.v)->fn(args, kwargs);
      }
      case Expr::Filter: {
        if (e.name == "default" || e.name == "d") {  // must see undefined values
          const Value v = eval(*e.a);
          const Value dflt = e.args.empty() ? Value(std::string()) : eval(*e.args[0]);
          bool boolean = e.args.size() > 1 && eval(*e.args[1]).truthy();
          for (const auto& [k, x] : e.kwargs)
            if (k == "boolean") boolean = eval(*x).truthy();
          if (v.is_undefined() || (boolean && !v.truthy())) return dflt;
          return v;
        }
        Args args{eval(*e.a)};
        Kwargs kwargs;
        for (const auto& a : e.args) args.push_back(eval(*a));
        for (const auto& [k, v] : e.kwargs) kwargs.emplace_back(k, eval(*v));
        return apply_filter(e.name, args, kwargs, [this](const std::string& n, const Args& a) { return apply_filter(n, a, {}, nullptr); });
      }
      case Expr::Test: {
        Args args{eval(*e.a)};
        for (const auto& a : e.args) args.push_back(eval(*a));
        const bool r = apply_test(e.name, args);
        return e.negated ? !r : r;
      }
      case Expr::Unary: {
        const Value v = eval(*e.a);
        if (e.name == "not") return !v.truthy();
        if (!v.is_number() && !v.is_bool()) fail_at(e, "bad operand type for unary " + e.name + ": '" + v.type_name() + "'");
        if (e.name == "+") return v;
        if (v.is_int()) {
          if (v.integer() == INT64_MIN) fail_at(e, "integer overflow in unary -");
          return -v.integer();
        }
        return -v.number();
      }
      case Expr::Ternary: {
        if (eval(*e.a).truthy()) return eval(*e.b);
        return e.c ? eval(*e.c) : Value(Undefined{});
      }
      case Expr::Binary: return binary(e);
    }
    fail_at(e, "unknown expression");
  }

  Value binary(const Expr& e) {
    const std::string& op = e.name;
    if (op == "and") {
      Value a = eval(*e.a);
      return a.truthy() ? eval(*e.b) : a;
    }
    if (op == "or") {
      Value a = eval(*e.a);
      return a.truthy() ? a : eval(*e.b);
    }
    const Value a = eval(*e.a), b = eval(*e.b);
    if (op == "==") return equals(a, b);
    if (op == "!=") return !equals(a, b);
    if (op == "<") return compare(a, b) < 0;
    if (op == ">") return compare(a, b) > 0;
    if (op == "<=") return compare(a, b) <= 0;
    if (op == ">=") return compare(a, b) >= 0;
    if (op == "in") return contains(b, a);
    if (op == "not in") return !contains(b, a);
    if (op == "~") {
      std::string l = to_str(a), r = to_str(b);
      check_template_string(l.size() + r.size());
      return l + r;
    }
    if ((a.is_undefined() || b.is_undefined()))
      fail_at(e, "'" + undefined_name(a.is_undefined() ? a : b) + "' is undefined");
    return arithmetic(op, a, b);
  }

  void exec(const Node& n, std::string& out) {
    // Templates are untrusted: bound the output and the work so loops cannot exhaust
    // memory or time (real chat templates take a few thousand steps).
    if (out.size() > kMaxTemplateString) fail_at(n, "the template's output passes the 64 MiB bound");
    if (++steps_ > kMaxSteps) fail_at(n, "template exceeds " + std::to_string(kMaxSteps) + " steps (runaway loop?)");
    switch (n.kind) {
      case Node::Text: out += n.text; return;
      case Node::Output: {
        const Value v = eval(*n.expr);
        out += to_str(v);
        return;
      }
      case Node::If:
        for (const auto& [cond, body] : n.branches)
          if (eval(*cond).truthy()) {
            render(body, out);
            return;
          }
        render(n.else_body, out);
        return;
      case Node::For: exec_for(n, out); return;
      case Node::Set: {
        Value v = eval(*n.expr);
        if (n.target_obj) {
          const Value obj = eval(*n.target_obj);
          if (!obj.is_namespace()) fail_at(n, "cannot assign attribute on a non-namespace object");
          std::get<std::shared_ptr<Namespace>>(obj.v)->attrs.set(n.text, std::move(v));
          return;
        }
        if (n.targets.size() == 1) {
          assign(n.targets[0], std::move(v));
          return;
        }
        const List items = to_list(v);
        if (items.size() != n.targets.size()) fail_at(n, "cannot unpack: wrong number of values");
        for (size_t i = 0; i < items.size(); ++i) assign(n.targets[i], items[i]);
        return;
      }
      case Node::SetBlock: {
        std::string s;
        render(n.body, s);
        assign(n.text, s);
        return;
      }
      case Node::Macro: assign(n.text, make_macro(n)); return;
      case Node::CallBlock: {
        // {% call m(args) %}body{% endcall %}: `caller()` renders the body.
        const Node* np = &n;
        auto caller = std::make_shared<Callable>();
        caller->name = "caller";
        caller->fn = [this, np](const Args&, const Kwargs&) -> Value {
          std::string s;
          render(np->body, s);
          return s;
        };
        frames_.emplace_back();
        assign("caller", Value(caller));
        out += to_str(eval(*n.expr));
        frames_.pop_back();
        return;
      }
      case Node::FilterBlock: {
        std::string s;
        render(n.body, s);
        out += to_str(apply_filter(n.text, {Value(s)}, {}, nullptr));
        return;
      }
      case Node::Break: throw BreakSignal{};
      case Node::Continue: throw ContinueSignal{};
    }
  }

  void exec_for(const Node& n, std::string& out) {
    const Value iterable = eval(*n.expr);
    List items;
    if (iterable.is_dict()) {
      for (const auto& [k, _] : iterable.dict().items) items.push_back(k);
    } else if (!iterable.is_undefined()) {  // None is not iterable (a TypeError in Python)
      items = to_list(iterable);
    }
    if (n.cond) {  // `for x in xs if cond`: filter first, loop.* counts the kept items
      List kept;
      for (const auto& it : items) {
        frames_.emplace_back();
        bind_targets(n, it);
        if (eval(*n.cond).truthy()) kept.push_back(it);
        frames_.pop_back();
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      render(n.else_body, out);
      return;
    }
    frames_.emplace_back();
    const int64_t len = int64_t(items.size());
    for (int64_t i = 0; i < len; ++i) {
      if (++steps_ > kMaxSteps) fail_at(n, "template exceeds " + std::to_string(kMaxSteps) + " steps (runaway loop?)");
      bind_targets(n, items[size_t(i)]);
      Dict loop;
      loop.set("index", i + 1);
      loop.set("index0", i);
      loop.set("revindex", len - i);
      loop.set("revindex0", len - i - 1);
      loop.set("first", i == 0);
      loop.set("last", i == len - 1);
      loop.set("length", len);
      loop.set("previtem", i > 0 ? items[size_t(i - 1)] : Value(Undefined{"previtem"}));
      loop.set("nextitem", i + 1 < len ? items[size_t(i + 1)] : Value(Undefined{"nextitem"}));
      auto cycle = std::make_shared<Callable>();
      cycle->name = "cycle";
      cycle->fn = [i](const Args& a, const Kwargs&) -> Value {
        if (a.empty()) throw Error("loop.cycle needs at least one argument");
        return a[size_t(i) % a.size()];
      };
      loop.set("cycle", Value(cycle));
      assign("loop", Value(std::move(loop)));
      try {
        render(n.body, out);
      } catch (const BreakSignal&) {
        break;
      } catch (const ContinueSignal&) {
        continue;
      }
    }
    frames_.pop_back();
  }

  void bind_targets(const Node& n, const Value& item) {
    if (n.targets.size() == 1) {
      assign(n.targets[0], item);
      return;
    }
    const List parts = to_list(item);
    if (parts.size() != n.targets.size()) fail_at(n, "cannot unpack loop item into " + std::to_string(n.targets.size()) + " names");
    for (size_t k = 0; k < parts.size(); ++k) assign(n.targets[k], parts[k]);
  }

  Value make_macro(const Node& n) {
    auto fn = std::make_shared<Callable>();
    fn->name = n.text;
    const Node* np = &n;
    fn->fn = [this, np](const Args& args, const Kwargs& kwargs) -> Value {
      if (frames_.size() > 200) fail_at(*np, "macro calls nested too deeply (recursion?)");
      if (args.size() > np->params.size()) fail_at(*np, "macro '" + np->text + "' takes " + std::to_string(np->params.size()) + " arguments");
      frames_.emplace_back();
      for (size_t i = 0; i < np->params.size(); ++i) {
        const auto& [name, dflt] = np->params[i];
        Value v = i < args.size() ? args[i] : Value(Undefined{name});
        for (const auto& [k, x] : kwargs)
          if (k == name) v = x;
        if (v.is_undefined() && dflt) v = eval(*dflt);
        assign(name, v);
      }
      std::string s;
      try {
        render(np->body, s);
      } catch (...) {
        frames_.pop_back();
        throw;
      }
      frames_.pop_back();
      return s;
    };
    return Value(fn);
  }

  static constexpr uint64_t kMaxSteps = 2'000'000;
  std::vector<Dict> frames_;
  uint64_t steps_ = 0;
};

}  // namespace

Template::Template(const std::string& source) : body_(parse_template(source)) {}

std::string Template::render(const Dict& globals) const {
  Renderer r(globals);
  std::string out;
  try {
    r.render(body_, out);
  } catch (const BreakSignal&) {
    throw Error("template: 'break' outside a loop");
  } catch (const ContinueSignal&) {
    throw Error("template: 'continue' outside a loop");
  }
  return out;
}

}  // namespace mlxcpp::jinja
