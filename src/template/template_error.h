// Errors from parsing or rendering a template, with the line and column at fault.
#pragma once

#include <string>

#include "util/error.h"

namespace mlxcpp::jinja {

class TemplateError : public Error {
 public:
  TemplateError(int line, int col, const std::string& what)
      : Error("template line " + std::to_string(line) + ", column " + std::to_string(col) + ": " + what),
        line_(line), col_(col) {}
  int line() const { return line_; }
  int col() const { return col_; }

 private:
  int line_, col_;
};

// raise_exception() called by the template itself.
class TemplateRaised : public Error {
 public:
  explicit TemplateRaised(const std::string& msg) : Error("the chat template raised an error: " + msg) {}
};

}  // namespace mlxcpp::jinja
