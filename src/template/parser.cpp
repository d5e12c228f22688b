#include "template/parser.h"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <cstdlib>
#include <set>

#include "template/template_error.h"

namespace mlxcpp::jinja {
namespace {

class ExprParser {
 public:
  explicit ExprParser(std::vector<Token> toks) : t_(std::move(toks)) {}

  const Token& peek(size_t k = 0) const { return t_[std::min(pos_ + k, t_.size() - 1)]; }
  bool at_end() const { return peek().kind == Token::End; }
  bool is_op(const char* op, size_t k = 0) const { return peek(k).kind == Token::Op && peek(k).text == op; }
  bool is_name(const char* n, size_t k = 0) const { return peek(k).kind == Token::Name && peek(k).text == n; }
  Token next() { return t_[std::min(pos_++, t_.size() - 1)]; }
  [[noreturn]] void error(const std::string& what) const { throw TemplateError(peek().line, peek().col, what); }
  void expect_op(const char* op) {
    if (!is_op(op)) error(std::string("expected '") + op + "', found '" + peek().text + "'");
    next();
  }
  std::string expect_name() {
    if (peek().kind != Token::Name) error("expected a name, found '" + peek().text + "'");
    return next().text;
  }
  void expect_end() {
    if (!at_end()) error("unexpected '" + peek().text + "'");
  }

  ExprPtr make(Expr::Kind k, const Token& at) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = at.line;
    e->col = at.col;
    return e;
  }

  ExprPtr or_expr_no_ternary() { return or_expr(); }

  // Untrusted templates: bound the nesting so recursion cannot exhaust the stack.
  static constexpr int kMaxDepth = 64;
  struct DepthGuard {
    ExprParser& p;
    explicit DepthGuard(ExprParser& parser) : p(parser) {
      if (++p.depth_ > kMaxDepth) p.error("expression nested deeper than " + std::to_string(kMaxDepth));
    }
    ~DepthGuard() { --p.depth_; }
  };

  ExprPtr expression() {  // ternary
    DepthGuard guard(*this);
    ExprPtr e = or_expr();
    if (is_name("if")) {
      const Token at = next();
      auto t = make(Expr::Ternary, at);
      t->a = or_expr();
      t->b = std::move(e);
      if (is_name("else")) {
        next();
        t->c = expression();
      }
      return t;
    }
    return e;
  }
  ExprPtr binary(ExprPtr left, const Token& at, const std::string& op, ExprPtr right) {
    auto e = make(Expr::Binary, at);
    e->name = op;
    e->a = std::move(left);
    e->b = std::move(right);
    return e;
  }
  // One left-associative precedence level: operands parsed by `operand`, joined by any of
  // `ops` (symbols, or keywords such as "and").
  ExprPtr binary_level(ExprPtr (ExprParser::*operand)(), std::initializer_list<const char*> ops) {
    ExprPtr e = (this->*operand)();
    for (;;) {
      if (std::none_of(ops.begin(), ops.end(), [&](const char* o) { return is_op(o) || is_name(o); })) return e;
      const Token at = next();
      e = binary(std::move(e), at, at.text, (this->*operand)());
    }
  }
  ExprPtr or_expr() { return binary_level(&ExprParser::and_expr, {"or"}); }
  ExprPtr and_expr() { return binary_level(&ExprParser::not_expr, {"and"}); }
  ExprPtr not_expr() {
    DepthGuard guard(*this);
    if (is_name("not")) {
      const Token at = next();
      auto e = make(Expr::Unary, at);
      e->name = "not";
      e->a = not_expr();
      return e;
    }
    return compare();
  }
  ExprPtr compare() {
    ExprPtr e = math1();
    for (;;) {
      const Token at = peek();
      std::string op;
      if (at.kind == Token::Op && (at.text == "==" || at.text == "!=" || at.text == "<" || at.text == ">" ||
                                   at.text == "<=" || at.text == ">=")) {
        op = next().text;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        op = "not in";
      } else {
        return e;
      }
      e = binary(std::move(e), at, op, math1());
    }
  }
  // jinja2's precedence, loosest first: + -, then ~, then * / // %, then **.
  ExprPtr math1() { return binary_level(&ExprParser::concat, {"+", "-"}); }
  ExprPtr concat() { return binary_level(&ExprParser::math2, {"~"}); }
  ExprPtr math2() { return binary_level(&ExprParser::power, {"*", "/", "//", "%"}); }
  ExprPtr power() { return binary_level(&ExprParser::unary, {"**"}); }
  ExprPtr unary() {
    if (is_op("-") || is_op("+")) {
      const Token at = next();
      auto e = make(Expr::Unary, at);
      e->name = at.text;
      e->a = unary_no_filter();
      return filters(std::move(e));
    }
    return filters(postfix(primary()));
  }
  ExprPtr unary_no_filter() {
    DepthGuard guard(*this);
    if (is_op("-") || is_op("+")) {
      const Token at = next();
      auto e = make(Expr::Unary, at);
      e->name = at.text;
      e->a = unary_no_filter();
      return e;
    }
    return postfix(primary());
  }
  void call_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (peek().kind == Token::Name && is_op("=", 1)) {
        std::string k = next().text;
        next();
        e.kwargs.emplace_back(std::move(k), expression());
      } else {
        if (!e.kwargs.empty()) error("positional argument after keyword argument");
        e.args.push_back(expression());
      }
      if (!is_op(")")) expect_op(",");
    }
    next();
  }
  ExprPtr filters(ExprPtr e) {
    for (;;) {
      if (is_op("|")) {
        const Token at = next();
        auto f = make(Expr::Filter, at);
        f->name = expect_name();
        f->a = std::move(e);
        if (is_op("(")) call_args(*f);
        e = std::move(f);
      } else if (is_name("is")) {
        const Token at = next();
        auto t = make(Expr::Test, at);
        if (is_name("not")) {
          next();
          t->negated = true;
        }
        // Tests may be keywords: "none", "true", "false", "in".
        t->name = expect_name();
        t->a = std::move(e);
        if (is_op("(")) {
          call_args(*t);
        } else if (!at_end() && (peek().kind == Token::String || peek().kind == Token::Int ||
                                 peek().kind == Token::Float || (peek().kind == Token::Name && !is_name("and") &&
                                                                  !is_name("or") && !is_name("if") && !is_name("else")))) {
          t->args.push_back(primary());  // `x is divisibleby 3`
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }
  ExprPtr postfix(ExprPtr e) {
    for (;;) {
      if (is_op(".")) {
        const Token at = next();
        auto a = make(Expr::Attr, at);
        if (peek().kind == Token::Int) a->name = next().text;
        else a->name = expect_name();
        a->a = std::move(e);
        e = std::move(a);
      } else if (is_op("[")) {
        const Token at = next();
        ExprPtr parts[3];
        int colons = 0;
        for (;;) {
          if (is_op("]")) break;
          if (is_op(":")) {
            next();
            if (++colons > 2) error("too many ':' in a slice");
            continue;
          }
          if (parts[colons]) error("expected ':' or ']'");
          parts[colons] = expression();
        }
        next();
        if (colons == 0) {
          auto ix = make(Expr::Index, at);
          if (!parts[0]) error("empty subscript");
          ix->a = std::move(e);
          ix->b = std::move(parts[0]);
          e = std::move(ix);
        } else {
          auto sl = make(Expr::Slice, at);
          sl->a = std::move(e);
          sl->b = std::move(parts[0]);
          sl->c = std::move(parts[1]);
          sl->d = std::move(parts[2]);
          e = std::move(sl);
        }
      } else if (is_op("(")) {
        const Token at = peek();
        auto c = make(Expr::Call, at);
        c->a = std::move(e);
        call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }
  ExprPtr primary() {
    const Token at = peek();
    if (at.kind == Token::String) {
      auto e = make(Expr::Literal, at);
      std::string s = next().text;
      while (peek().kind == Token::String) s += next().text;  // adjacent literals concatenate
      e->value = s;
      return e;
    }
    if (at.kind == Token::Int) {
      auto e = make(Expr::Literal, at);
      const std::string text = next().text;
      int64_t v = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || ptr != text.data() + text.size())
        throw TemplateError(at.line, at.col, "integer literal " + text.substr(0, 40) + " is out of range");
      e->value = v;
      return e;
    }
    if (at.kind == Token::Float) {
      auto e = make(Expr::Literal, at);
      const std::string text = next().text;
      char* end = nullptr;
      e->value = std::strtod(text.c_str(), &end);  // overflow gives inf, as Python's float()
      return e;
    }
    if (at.kind == Token::Name) {
      next();
      auto e = make(Expr::Literal, at);
      if (at.text == "true" || at.text == "True") e->value = true;
      else if (at.text == "false" || at.text == "False") e->value = false;
      else if (at.text == "none" || at.text == "None") e->value = None{};
      else {
        e->kind = Expr::Name;
        e->name = at.text;
      }
      return e;
    }
    if (is_op("(")) {
      next();
      ExprPtr first = expression();
      if (is_op(",")) {  // tuple → list
        auto l = make(Expr::ListLit, at);
        l->args.push_back(std::move(first));
        while (is_op(",")) {
          next();
          if (is_op(")")) break;
          l->args.push_back(expression());
        }
        expect_op(")");
        return l;
      }
      expect_op(")");
      return first;
    }
    if (is_op("[")) {
      next();
      auto l = make(Expr::ListLit, at);
      while (!is_op("]")) {
        l->args.push_back(expression());
        if (!is_op("]")) expect_op(",");
      }
      next();
      return l;
    }
    if (is_op("{")) {
      next();
      auto d = make(Expr::DictLit, at);
      while (!is_op("}")) {
        ExprPtr k = expression();
        expect_op(":");
        d->pairs.emplace_back(std::move(k), expression());
        if (!is_op("}")) expect_op(",");
      }
      next();
      return d;
    }
    error(at.kind == Token::End ? "unexpected end of expression" : "unexpected '" + at.text + "'");
  }

 private:
  std::vector<Token> t_;
  size_t pos_ = 0;
  int depth_ = 0;
};

class TemplateParser {
 public:
  explicit TemplateParser(std::vector<Chunk> chunks) : chunks_(std::move(chunks)) {}

  Body parse_all() {
    Body body = parse_until({});
    if (pos_ < chunks_.size()) {
      const Chunk& c = chunks_[pos_];
      throw TemplateError(c.line, c.col, "unexpected '" + first_word(c) + "'");
    }
    return body;
  }

 private:
  static std::string first_word(const Chunk& c) {
    const auto toks = tokenize_tag(c);
    return toks.empty() ? "" : toks[0].text;
  }

  // Parses nodes until a statement whose first word is in `stops` (left unconsumed).
  Body parse_until(const std::set<std::string>& stops) {
    if (++depth_ > 64) {
      const Chunk& c = chunks_[std::min(pos_, chunks_.size() - 1)];
      throw TemplateError(c.line, c.col, "blocks nested deeper than 64");
    }
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
    Body body;
    while (pos_ < chunks_.size()) {
      const Chunk& c = chunks_[pos_];
      if (c.kind == Chunk::Text) {
        auto n = node(Node::Text, c);
        n->text = c.text;
        body.push_back(std::move(n));
        ++pos_;
        continue;
      }
      if (c.kind == Chunk::Output) {
        ExprParser p(tokenize_tag(c));
        auto n = node(Node::Output, c);
        n->expr = p.expression();
        p.expect_end();
        body.push_back(std::move(n));
        ++pos_;
        continue;
      }
      const std::string word = first_word(c);
      if (stops.count(word)) return body;
      body.push_back(statement());
    }
    if (!stops.empty()) {
      const Chunk& last = chunks_.empty() ? Chunk{Chunk::Text, "", 1, 1} : chunks_.back();
      throw TemplateError(last.line, last.col, "unexpected end of template: missing {% " + *stops.rbegin() + " %}");
    }
    return body;
  }

  static NodePtr node(Node::Kind k, const Chunk& c) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->line = c.line;
    n->col = c.col;
    return n;
  }

  void expect_statement(const std::string& word) {
    if (pos_ >= chunks_.size()) throw TemplateError(0, 0, "missing {% " + word + " %}");
    ExprParser p(tokenize_tag(chunks_[pos_]));
    if (!p.is_name(word.c_str())) p.error("expected '" + word + "'");
    p.next();
    p.expect_end();
    ++pos_;
  }

  NodePtr statement() {
    const Chunk& c = chunks_[pos_];
    ExprParser p(tokenize_tag(c));
    const Token kw = p.next();
    if (kw.kind != Token::Name) p.error("expected a statement");
    ++pos_;
    const std::string& w = kw.text;
    if (w == "if") {
      auto n = node(Node::If, c);
      ExprPtr cond = p.expression();
      p.expect_end();
      for (;;) {
        Body b = parse_until({"elif", "else", "endif"});
        n->branches.emplace_back(std::move(cond), std::move(b));
        ExprParser q(tokenize_tag(chunks_[pos_]));
        const std::string next_word = q.next().text;
        ++pos_;
        if (next_word == "elif") {
          cond = q.expression();
          q.expect_end();
          continue;
        }
        q.expect_end();
        if (next_word == "else") {
          n->else_body = parse_until({"endif"});
          expect_statement("endif");
        }
        break;
      }
      return n;
    }
    if (w == "for") {
      auto n = node(Node::For, c);
      n->targets.push_back(p.expect_name());
      while (p.is_op(",")) {
        p.next();
        n->targets.push_back(p.expect_name());
      }
      if (!p.is_name("in")) p.error("expected 'in'");
      p.next();
      n->expr = p.or_expr_no_ternary();
      if (p.is_name("if")) {
        p.next();
        n->cond = p.expression();
      }
      if (p.is_name("recursive")) p.error("recursive loops are not supported");
      p.expect_end();
      n->body = parse_until({"else", "endfor"});
      ExprParser q(tokenize_tag(chunks_[pos_]));
      if (q.next().text == "else") {
        ++pos_;
        n->else_body = parse_until({"endfor"});
      }
      expect_statement("endfor");
      return n;
    }
    if (w == "set") {
      const std::string first = p.expect_name();
      if (p.is_op(".")) {  // set ns.attr = value
        p.next();
        auto n = node(Node::Set, c);
        auto obj = std::make_unique<Expr>();
        obj->kind = Expr::Name;
        obj->name = first;
        obj->line = c.line;
        obj->col = c.col;
        n->target_obj = std::move(obj);
        n->text = p.expect_name();
        p.expect_op("=");
        n->expr = p.expression();
        p.expect_end();
        return n;
      }
      std::vector<std::string> targets{first};
      while (p.is_op(",")) {
        p.next();
        targets.push_back(p.expect_name());
      }
      if (p.at_end() && targets.size() == 1) {  // block set
        auto n = node(Node::SetBlock, c);
        n->text = first;
        n->body = parse_until({"endset"});
        expect_statement("endset");
        return n;
      }
      p.expect_op("=");
      auto n = node(Node::Set, c);
      n->targets = targets;
      n->expr = p.expression();
      if (p.is_op(",")) {  // set a, b = x, y
        auto l = std::make_unique<Expr>();
        l->kind = Expr::ListLit;
        l->args.push_back(std::move(n->expr));
        while (p.is_op(",")) {
          p.next();
          l->args.push_back(p.expression());
        }
        n->expr = std::move(l);
      }
      p.expect_end();
      return n;
    }
    if (w == "macro") {
      auto n = node(Node::Macro, c);
      n->text = p.expect_name();
      p.expect_op("(");
      while (!p.is_op(")")) {
        std::string name = p.expect_name();
        ExprPtr dflt;
        if (p.is_op("=")) {
          p.next();
          dflt = p.expression();
        }
        n->params.emplace_back(std::move(name), std::move(dflt));
        if (!p.is_op(")")) p.expect_op(",");
      }
      p.next();
      p.expect_end();
      n->body = parse_until({"endmacro"});
      expect_statement("endmacro");
      return n;
    }
    if (w == "call") {
      auto n = node(Node::CallBlock, c);
      n->expr = p.expression();
      p.expect_end();
      n->body = parse_until({"endcall"});
      expect_statement("endcall");
      return n;
    }
    if (w == "filter") {
      auto n = node(Node::FilterBlock, c);
      n->text = p.expect_name();
      p.expect_end();
      n->body = parse_until({"endfilter"});
      expect_statement("endfilter");
      return n;
    }
    if (w == "generation") {  // transformers' AssistantTracker marks assistant text; render the body
      p.expect_end();
      Body b = parse_until({"endgeneration"});
      expect_statement("endgeneration");
      auto n = node(Node::If, c);
      auto yes = std::make_unique<Expr>();
      yes->kind = Expr::Literal;
      yes->value = true;
      n->branches.emplace_back(std::move(yes), std::move(b));
      return n;
    }
    if (w == "break" || w == "continue") {
      p.expect_end();
      return node(w == "break" ? Node::Break : Node::Continue, c);
    }
    throw TemplateError(kw.line, kw.col, "unsupported statement '" + w + "'");
  }

  std::vector<Chunk> chunks_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse_template(const std::string& source, const LexOptions& options) {
  return TemplateParser(split_template(source, options)).parse_all();
}

}  // namespace mlxcpp::jinja
