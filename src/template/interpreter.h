// Renders a parsed template with Python jinja2's semantics as transformers sets it up
// (sandboxed: no attribute writes except on namespaces; loop controls; raise_exception,
// strftime_now; tojson as transformers defines it).
#pragma once

#include <string>

#include "template/ast.h"
#include "template/value.h"

namespace mlxcpp::jinja {

class Template {
 public:
  explicit Template(const std::string& source);  // throws TemplateError with line/column
  // `globals` is a dict of the variables visible to the template.
  std::string render(const Dict& globals) const;

 private:
  Body body_;
};

}  // namespace mlxcpp::jinja
