// Splits a Jinja2 template into text and tag chunks, applying whitespace control the
// way transformers configures jinja2 (trim_blocks, lstrip_blocks, "-" and "+" markers),
// then tokenizes the inside of tags.
#pragma once

#include <string>
#include <vector>

namespace mlxcpp::jinja {

// Python's str.isspace for ASCII: space, \t, \n, \r, \f, \v.
inline bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

struct Chunk {
  enum Kind { Text, Output, Statement } kind;  // text, {{ ... }}, {% ... %}
  std::string text;                            // text, or the tag's inside
  int line = 1, col = 1;                       // where the chunk starts
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

std::vector<Chunk> split_template(const std::string& source, const LexOptions& options = {});

struct Token {
  enum Kind { Name, String, Int, Float, Op, End } kind;
  std::string text;  // name, decoded string, number text, or operator
  int line = 1, col = 1;
};

// Tokenizes a tag's inside; positions are relative to the template.
std::vector<Token> tokenize_tag(const Chunk& chunk);

}  // namespace mlxcpp::jinja
