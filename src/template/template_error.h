// Errors from parsing or rendering a template, with the line and column at fault.
#pragma once

#include <cstdint>
#include <string>

#include "util/error.h"

namespace mlxcpp::jinja {

// Templates are untrusted: no string they build (output or intermediate) may pass this.
inline constexpr uint64_t kMaxTemplateString = uint64_t(64) << 20;
// Throws before a string of `bytes` is built past the bound.
inline void check_template_string(uint64_t bytes) {
  if (bytes > kMaxTemplateString)
    throw Error("a string of " + std::to_string(bytes) + " bytes would pass the 64 MiB bound on strings a template builds");
}

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
