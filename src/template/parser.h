// Parses a Jinja2 template (the subset chat templates use) into a syntax tree. An
// unsupported construct is an error naming its line and column.
#pragma once

#include <string>

#include "template/ast.h"
#include "template/lexer.h"

namespace mlxcpp::jinja {

Body parse_template(const std::string& source, const LexOptions& options = {});

}  // namespace mlxcpp::jinja
