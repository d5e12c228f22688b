#!/usr/bin/env python3
"""Writes corpus.json: the JSON schemas the structured-output test generates against
(tests/clients/structured_output.test.mjs; every output is judged by ajv). Hand-written:
the shapes agents and SDKs send (OpenAI strict schemas, Pydantic / zod output, tool
parameters), and one schema per draft 2020-12 keyword we support, after the
JSON-Schema-Test-Suite's cases for it (type, enum, const, properties, required,
additionalProperties, items, prefixItems, minItems, maxItems, minLength, maxLength,
minimum, maximum, exclusiveMinimum, exclusiveMaximum, anyOf, oneOf, allOf, $ref, $defs,
format, boolean schemas). `unsupported` lists schemas that must be refused, naming the
keyword. Run: python3 make_corpus.py > corpus.json"""
import json

S = []
def add(name, schema): S.append({"name": name, "schema": schema})
obj = lambda props, req=None, extra=False: {"type": "object", "properties": props, "required": list(props) if req is None else req, "additionalProperties": extra}

# Shapes clients send.
add("openai-weather", obj({"location": {"type": "string", "maxLength": 40}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}))
add("openai-math-steps", obj({"steps": {"type": "array", "items": obj({"explanation": {"type": "string", "maxLength": 30}, "output": {"type": "string", "maxLength": 20}}), "maxItems": 3}, "final_answer": {"type": "string", "maxLength": 20}}))
add("pydantic-user", {"title": "User", "type": "object", "properties": {"id": {"title": "Id", "type": "integer"}, "name": {"title": "Name", "type": "string", "maxLength": 20}, "email": {"anyOf": [{"type": "string", "format": "email"}, {"type": "null"}], "default": None}}, "required": ["id", "name"]})
add("pydantic-nested-defs", {"$defs": {"Address": {"type": "object", "properties": {"street": {"type": "string", "maxLength": 20}, "zip": {"type": "string", "minLength": 5, "maxLength": 5}}, "required": ["street", "zip"]}}, "type": "object", "properties": {"home": {"$ref": "#/$defs/Address"}, "work": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}]}}, "required": ["home", "work"]})
add("pydantic-enum-def", {"$defs": {"Color": {"enum": ["red", "green", "blue"], "title": "Color", "type": "string"}}, "properties": {"color": {"$ref": "#/$defs/Color"}, "count": {"type": "integer", "minimum": 0, "maximum": 9}}, "required": ["color", "count"], "type": "object"})
add("zod-object", {"type": "object", "properties": {"title": {"type": "string", "maxLength": 30}, "done": {"type": "boolean"}, "priority": {"type": "number", "minimum": 0, "maximum": 5}}, "required": ["title", "done", "priority"], "additionalProperties": False, "$schema": "http://json-schema.org/draft-07/schema#"})
add("langchain-joke", {"title": "Joke", "description": "Joke to tell user.", "type": "object", "properties": {"setup": {"description": "The setup", "type": "string", "maxLength": 40}, "punchline": {"type": "string", "maxLength": 40}, "rating": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 10}, {"type": "null"}]}}, "required": ["setup", "punchline"]})
add("tool-params-search", obj({"query": {"type": "string", "maxLength": 30}, "limit": {"type": "integer", "minimum": 1, "maximum": 50}, "filters": {"type": "array", "items": {"type": "string", "maxLength": 10}, "maxItems": 2}}, ["query"]))
add("discriminated-union", {"type": "object", "properties": {"shape": {"oneOf": [obj({"kind": {"const": "circle"}, "r": {"type": "number", "minimum": 0, "maximum": 10}}), obj({"kind": {"const": "square"}, "side": {"type": "integer", "minimum": 1, "maximum": 9}})]}}, "required": ["shape"]})
add("recursive-tree", {"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer", "minimum": 0, "maximum": 99}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2}}, "required": ["v"], "additionalProperties": False}}})
add("event-dates", obj({"name": {"type": "string", "maxLength": 20}, "date": {"type": "string", "format": "date"}, "start": {"type": "string", "format": "date-time"}, "at": {"type": "string", "format": "time"}}))
add("ids-and-hosts", obj({"id": {"type": "string", "format": "uuid"}, "ip": {"type": "string", "format": "ipv4"}, "contact": {"type": "string", "format": "email"}}))
add("classification", obj({"label": {"enum": ["positive", "negative", "neutral"]}, "confidence": {"type": "number", "minimum": 0, "maximum": 1}}))
add("extraction-list", obj({"people": {"type": "array", "items": obj({"name": {"type": "string", "maxLength": 15}, "age": {"type": ["integer", "null"], "minimum": 0, "maximum": 120}}), "minItems": 1, "maxItems": 3}}))
add("free-form-object", {"type": "object"})
add("json-object-mode", {"type": "object", "additionalProperties": {"type": "string", "maxLength": 10}})
add("map-of-integers", {"type": "object", "additionalProperties": {"type": "integer"}})
add("matrix", obj({"rows": {"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": -9, "maximum": 9}, "minItems": 2, "maxItems": 2}, "minItems": 2, "maxItems": 2}}))
add("optional-fields", obj({"a": {"type": "string", "maxLength": 5}, "b": {"type": "integer"}, "c": {"type": "boolean"}, "d": {"type": "null"}}, []))
add("nullable-openapi", obj({"note": {"type": "string", "nullable": True, "maxLength": 10}}))
add("deep-nesting", obj({"a": obj({"b": obj({"c": obj({"d": {"type": "integer", "minimum": 0, "maximum": 9}})})})}))
add("many-properties", obj({f"f{i}": ({"type": "integer", "minimum": 0, "maximum": 99} if i % 3 == 0 else {"type": "boolean"} if i % 3 == 1 else {"enum": ["x", "y"]}) for i in range(24)}))
add("array-of-enums", {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 1, "maxItems": 5})
add("tuple-fixed", {"type": "array", "prefixItems": [{"type": "string", "maxLength": 8}, {"type": "integer"}, {"type": "boolean"}], "items": False})
add("tuple-open", {"type": "array", "prefixItems": [{"const": "head"}], "items": {"type": "integer", "minimum": 0, "maximum": 9}, "maxItems": 4})
add("string-length", {"type": "string", "minLength": 3, "maxLength": 12})
add("top-level-integer", {"type": "integer", "minimum": 1900, "maximum": 2100})
add("top-level-number", {"type": "number"})
add("top-level-boolean", {"type": "boolean"})
add("top-level-null", {"type": "null"})
add("top-level-enum-mixed", {"enum": ["one", 2, True, None, {"k": [1, 2]}]})
add("any-value", True)
add("empty-schema", {})

# One per keyword, after the draft 2020-12 test suite's cases.
add("ts-type-array", {"type": ["string", "integer"], "maxLength": 10})
add("ts-const-object", {"const": {"foo": "bar", "baz": "bax"}})
add("ts-const-array", {"const": [{"foo": "bar"}]})
add("ts-enum-escaped", {"enum": ["foo\nbar", "foo\rbar", "é", "\u0000nul"]})
add("ts-properties-required", {"properties": {"foo": {"type": "integer"}, "bar": {"type": "string", "maxLength": 6}}, "required": ["foo"], "additionalProperties": False})
add("ts-required-undeclared", {"type": "object", "required": ["name"], "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 5}})
add("ts-additional-schema", {"properties": {"foo": {}, "bar": {}}, "additionalProperties": {"type": "boolean"}})
add("ts-items-schema", {"items": {"type": "integer"}, "maxItems": 4})
add("ts-prefixitems-items-false", {"prefixItems": [{"type": "integer"}, {"type": "string", "maxLength": 4}], "items": False})
add("ts-minitems", {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "boolean"}})
add("ts-minimum-negative", {"type": "number", "minimum": -2, "maximum": 2})
add("ts-exclusive-bounds", {"type": "number", "exclusiveMinimum": 1.1, "exclusiveMaximum": 3})
add("ts-exclusive-integer", {"type": "integer", "exclusiveMinimum": -5, "exclusiveMaximum": 5})
add("ts-anyof-types", {"anyOf": [{"type": "integer", "minimum": 10, "maximum": 20}, {"type": "string", "maxLength": 3}]})
add("ts-allof-single", {"allOf": [{"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"], "additionalProperties": False}]})
add("ts-ref-root-recursion", {"type": "object", "properties": {"foo": {"$ref": "#"}}, "additionalProperties": False})
add("ts-ref-pointer", {"properties": {"foo": {"type": "integer", "minimum": 0, "maximum": 3}, "bar": {"$ref": "#/properties/foo"}}, "required": ["foo", "bar"], "additionalProperties": False})
add("ts-defs-chain", {"$defs": {"a": {"type": "integer", "minimum": 5, "maximum": 6}, "b": {"$ref": "#/$defs/a"}, "c": {"$ref": "#/$defs/b"}}, "$ref": "#/$defs/c"})
add("ts-definitions-draft7", {"definitions": {"pos": {"type": "integer", "minimum": 1, "maximum": 1000}}, "type": "array", "items": {"$ref": "#/definitions/pos"}, "maxItems": 3})
add("ts-boolean-subschema", {"type": "object", "properties": {"anything": True, "flag": {"type": "boolean"}}, "required": ["anything", "flag"], "additionalProperties": False})
add("ts-format-date-leap", {"type": "array", "items": {"type": "string", "format": "date"}, "minItems": 3, "maxItems": 3})
add("ts-unicode-lengths", {"type": "string", "minLength": 2, "maxLength": 2})

unsupported = [
    {"keyword": "pattern", "schema": {"type": "string", "pattern": "^[a-z]+$"}},
    {"keyword": "multipleOf", "schema": {"type": "integer", "multipleOf": 3}},
    {"keyword": "uniqueItems", "schema": {"type": "array", "uniqueItems": True}},
    {"keyword": "patternProperties", "schema": {"type": "object", "patternProperties": {"^x": {}}}},
    {"keyword": "not", "schema": {"not": {"type": "string"}}},
    {"keyword": "if", "schema": {"if": {"type": "string"}, "then": {"maxLength": 3}}},
    {"keyword": "contains", "schema": {"type": "array", "contains": {"const": 1}}},
    {"keyword": "minProperties", "schema": {"type": "object", "minProperties": 1}},
    {"keyword": "hostname", "schema": {"type": "string", "format": "hostname"}},
    {"keyword": "oneOf", "schema": {"oneOf": [{"type": "integer"}, {"type": "number"}]}},
]
print(json.dumps({"schemas": S, "unsupported": unsupported}, indent=1, ensure_ascii=False))
