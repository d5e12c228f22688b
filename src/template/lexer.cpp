#include "template/lexer.h"

#include <algorithm>
#include <cctype>

#include "template/template_error.h"

namespace mlxcpp::jinja {
namespace {

void position_after(const std::string& s, size_t from, size_t to, int& line, int& col) {
  for (size_t i = from; i < to; ++i) {
    if (s[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
}


// Where `close` ends a tag whose body starts at `from`. Inside {{ }} and {% %} a quoted
// string may contain the closing characters, so quoted text is skipped. npos if unclosed.
size_t find_tag_close(const std::string& src, size_t from, const char* close, bool skip_strings) {
  if (!skip_strings) return src.find(close, from);
  char quote = 0;
  for (size_t k = from; k + 1 < src.size(); ++k) {
    const char c = src[k];
    if (quote) {
      if (c == '\\') ++k;
      else if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == close[0] && src[k + 1] == close[1]) {
      return k;
    }
  }
  return std::string::npos;
}

}  // namespace

std::vector<Chunk> split_template(const std::string& src, const LexOptions& opt) {
  std::vector<Chunk> out;
  size_t i = 0;
  int line = 1, col = 1;
  bool strip_next_ws = false;  // a "-" closed the previous tag
  bool trim_next_nl = false;   // trim_blocks after a block or comment tag
  std::string text;
  int text_line = 1, text_col = 1;
  auto flush_text = [&] {
    if (!text.empty()) out.push_back({Chunk::Text, text, text_line, text_col});
    text.clear();
  };
  while (i < src.size()) {
    size_t open = src.find('{', i);
    while (open != std::string::npos && open + 1 < src.size() && src[open + 1] != '{' && src[open + 1] != '%' &&
           src[open + 1] != '#')
      open = src.find('{', open + 1);
    if (open == std::string::npos || open + 1 >= src.size()) open = src.size();
    // Text up to the tag.
    std::string piece = src.substr(i, open - i);
    if (text.empty()) {
      text_line = line;
      text_col = col;
    }
    if (strip_next_ws) {
      size_t k = 0;
      while (k < piece.size() && is_ascii_space(piece[k])) ++k;
      piece.erase(0, k);
    } else if (trim_next_nl) {
      if (piece.starts_with("\r\n")) piece.erase(0, 2);
      else if (piece.starts_with("\n")) piece.erase(0, 1);
    }
    strip_next_ws = trim_next_nl = false;
    position_after(src, i, open, line, col);
    if (open >= src.size()) {
      text += piece;
      break;
    }
    const char kind = src[open + 1];
    const bool minus_left = open + 2 < src.size() && src[open + 2] == '-';
    const bool plus_left = open + 2 < src.size() && src[open + 2] == '+';
    if (minus_left) {
      while (!piece.empty() && is_ascii_space(piece.back())) piece.pop_back();
    } else if (opt.lstrip_blocks && !plus_left && (kind == '%' || kind == '#')) {
      // Remove the spaces and tabs between the start of a source line and the tag.
      size_t k = open;
      while (k > i && (src[k - 1] == ' ' || src[k - 1] == '\t')) --k;
      if (k == 0 || src[k - 1] == '\n') piece.erase(piece.size() - std::min(piece.size(), open - k));
    }
    text += piece;
    const int tag_line = line, tag_col = col;
    const char* close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
    const size_t body_start = open + 2 + ((minus_left || plus_left) ? 1 : 0);
    const size_t end = find_tag_close(src, body_start, close, kind != '#');
    if (end == std::string::npos)
      throw TemplateError(tag_line, tag_col, std::string("unclosed tag: missing '") + close + "'");
    bool minus_right = end > body_start && src[end - 1] == '-';
    std::string body = src.substr(body_start, end - body_start - (minus_right ? 1 : 0));
    position_after(src, open, end + 2, line, col);
    i = end + 2;
    if (kind == '#') {
      if (minus_right) strip_next_ws = true;
      else if (opt.trim_blocks) trim_next_nl = true;
      continue;
    }
    // {% raw %} ... {% endraw %} passes its content through verbatim.
    std::string trimmed = body;
    while (!trimmed.empty() && is_ascii_space(trimmed.front())) trimmed.erase(0, 1);
    while (!trimmed.empty() && is_ascii_space(trimmed.back())) trimmed.pop_back();
    if (kind == '%' && trimmed == "raw") {
      // The body ends at the next {% endraw %} tag (allowing "-" markers and spaces).
      size_t tag = std::string::npos, close_raw = std::string::npos;
      for (size_t k = src.find("{%", i); k != std::string::npos; k = src.find("{%", k + 2)) {
        size_t p = k + 2;
        if (p < src.size() && (src[p] == '-' || src[p] == '+')) ++p;
        while (p < src.size() && is_ascii_space(src[p])) ++p;
        if (src.compare(p, 6, "endraw") != 0) continue;
        p += 6;
        while (p < src.size() && is_ascii_space(src[p])) ++p;
        if (p < src.size() && src[p] == '-') ++p;
        if (src.compare(p, 2, "%}") == 0) {
          tag = k;
          close_raw = p;
          break;
        }
      }
      if (tag == std::string::npos) throw TemplateError(tag_line, tag_col, "{% raw %} without {% endraw %}");
      std::string raw = src.substr(i, tag - i);
      // jinja2 keeps the raw body as written (trim_blocks does not apply inside it).
      if (minus_right)
        while (!raw.empty() && is_ascii_space(raw.front())) raw.erase(0, 1);
      if (src[tag + 2] == '-')
        while (!raw.empty() && is_ascii_space(raw.back())) raw.pop_back();
      text += raw;
      position_after(src, i, close_raw + 2, line, col);
      i = close_raw + 2;
      if (src[close_raw - 1] == '-') strip_next_ws = true;
      else if (opt.trim_blocks) trim_next_nl = true;
      continue;
    }
    flush_text();
    out.push_back({kind == '{' ? Chunk::Output : Chunk::Statement, body, tag_line, tag_col});
    if (minus_right) strip_next_ws = true;
    else if (kind == '%' && opt.trim_blocks) trim_next_nl = true;
  }
  flush_text();
  return out;
}

std::vector<Token> tokenize_tag(const Chunk& chunk) {
  std::vector<Token> toks;
  const std::string& s = chunk.text;
  int line = chunk.line, col = chunk.col + 2;
  size_t i = 0;
  auto advance = [&](size_t n) {
    for (size_t k = 0; k < n && i < s.size(); ++k, ++i) {
      if (s[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
  };
  while (i < s.size()) {
    const char c = s[i];
    if (is_ascii_space(c)) {
      advance(1);
      continue;
    }
    const int tl = line, tc = col;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      toks.push_back({Token::Name, s.substr(i, j - i), tl, tc});
      advance(j - i);
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      bool is_float = false;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      if (j + 1 < s.size() && s[j] == '.' && std::isdigit(static_cast<unsigned char>(s[j + 1]))) {
        is_float = true;
        ++j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      }
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
        if (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) {
          is_float = true;
          j = k;
          while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
        }
      }
      std::string num;
      for (size_t k = i; k < j; ++k)
        if (s[k] != '_') num += s[k];
      toks.push_back({is_float ? Token::Float : Token::Int, num, tl, tc});
      advance(j - i);
    } else if (c == '\'' || c == '"') {
      std::string val;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != c; ++j) {
        if (s[j] == '\\' && j + 1 < s.size()) {
          const char e = s[++j];
          switch (e) {
            case 'n': val += '\n'; break;
            case 't': val += '\t'; break;
            case 'r': val += '\r'; break;
            case '\\': val += '\\'; break;
            case '\'': val += '\''; break;
            case '"': val += '"'; break;
            case '0': val += '\0'; break;
            default: val += '\\'; val += e;
          }
        } else {
          val += s[j];
        }
      }
      if (j >= s.size()) throw TemplateError(tl, tc, "unterminated string literal");
      toks.push_back({Token::String, val, tl, tc});
      advance(j + 1 - i);
    } else {
      static const char* ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=",
                                  "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"};
      bool matched = false;
      for (const char* op : ops) {
        const std::string o(op);
        if (s.compare(i, o.size(), o) == 0) {
          toks.push_back({Token::Op, o, tl, tc});
          advance(o.size());
          matched = true;
          break;
        }
      }
      if (!matched) throw TemplateError(tl, tc, std::string("unexpected character '") + c + "'");
    }
  }
  toks.push_back({Token::End, "", line, col});
  return toks;
}

}  // namespace mlxcpp::jinja
