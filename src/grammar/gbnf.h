// GBNF (llama.cpp's grammar notation) → grammar. The subset read:
//   name ::= alternatives      rules; the one named "root" is where a sentence starts
//   "text"  [a-z0-9_]  [^"\\]  literals and character classes (\n \r \t \\ \" \] \xHH \uHHHH
//                               \UHHHHHHHH escapes), . for any character
//   ( … )  * + ?  {m}  {m,}  {m,n}  grouping and repetition;  # comments to the end of a line
// Literals and negated classes may hold any Unicode; a positive class may range only over
// ASCII (a class of other characters is refused by name). Left recursion is refused.
#pragma once

#include <memory>
#include <string_view>

#include "grammar/grammar.h"

namespace mlxcpp::grammar {

// Throws Error naming the line and column of the fault.
std::shared_ptr<Grammar> parse_gbnf(std::string_view text);

}  // namespace mlxcpp::grammar
