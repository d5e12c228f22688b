// JSON Schema → grammar: the texts the grammar accepts are JSON documents valid against
// the schema (a subset of them: properties in the order the schema lists them, optional
// properties absent or present, bounded whitespace, numbers of at most 16 integer digits,
// no properties beyond those listed when a schema lists any).
//
// Supported: type (and lists of types), properties / required / additionalProperties,
// enum / const, items / prefixItems / minItems / maxItems, minLength / maxLength, formats
// date, time, date-time, uuid, ipv4, email; minimum / maximum / exclusiveMinimum /
// exclusiveMaximum; $ref into the document ($defs, definitions, any JSON pointer, "#"),
// anyOf, allOf of one schema, oneOf whose branches differ in a constant property.
// Annotations (title, description, default, examples, ...) are ignored. Any other keyword
// is refused with an Error that names it and where it is: a schema is never loosened.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "grammar/grammar.h"

namespace mlxcpp::grammar {

// Adds rules for documents valid against `schema` to `g` and returns the rule that
// matches one (no whitespace around it). `where` prefixes error messages.
int32_t add_json_schema(Grammar& g, const nlohmann::ordered_json& schema, const std::string& where);

// A grammar whose sentences are one JSON value valid against `schema`, nothing before or
// after it (generation ends with its last byte).
std::shared_ptr<Grammar> json_schema_grammar(const nlohmann::ordered_json& schema, const std::string& where = "schema");

}  // namespace mlxcpp::grammar
