// Constrained decoding's grammar layer: GBNF and JSON Schema compiled to byte grammars,
// run by the automaton on whole documents (accepted exactly when valid), and the token
// masks over a real 128k vocabulary (Llama 3's): every allowed token continues the
// document, and random walks through the masks always end in a valid one.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "grammar/token_constraint.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace mlxcpp::grammar {
namespace {

using json = nlohmann::ordered_json;

bool accepts(const std::shared_ptr<Grammar>& g, std::string_view text) {
  Automaton a(g);
  int32_t s = a.start();
  for (const char c : text) {
    s = a.next(s, uint8_t(c));
    if (s == Automaton::kDead) return false;
  }
  return a.accepting(s);
}

bool schema_accepts(const json& schema, std::string_view text) { return accepts(json_schema_grammar(schema), text); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Gbnf, AcceptsExactlyItsLanguage) {
  const auto g = parse_gbnf(R"(
    # a comment
    root   ::= answer ("," ws answer)*
    answer ::= "yes" | "no" | [0-9]{1,3}
    ws     ::= [ \t]?
  )");
  for (const char* ok : {"yes", "no", "7", "123", "yes, no,42", "no,no"}) EXPECT_TRUE(accepts(g, ok)) << ok;
  for (const char* bad : {"", "maybe", "1234", "yes,", "yes,  no", "Yes"}) EXPECT_FALSE(accepts(g, bad)) << bad;
}

TEST(Gbnf, NegatedClassesTakeAnyUtf8AndEscapes) {
  const auto g = parse_gbnf(R"(root ::= "\"" [^"\\]* "\"" "\u00e9")");
  EXPECT_TRUE(accepts(g, "\"h\xc3\xa9llo \xe2\x82\xac\"\xc3\xa9"));
  EXPECT_FALSE(accepts(g, "\"bad \xc3\"\xc3\xa9"));   // a broken UTF-8 character
  EXPECT_FALSE(accepts(g, "\"a\"b\"\xc3\xa9"));
}

TEST(Gbnf, ErrorsNameWhereAndWhat) {
  EXPECT_NE(error_of([] { parse_gbnf("root ::= \"a\"\nfoo ::= ( \"b\""); }).find("line 2"), std::string::npos);
  EXPECT_NE(error_of([] { parse_gbnf("root ::= expr\nexpr ::= expr \"+\" \"1\" | \"1\""); }).find("left-recursive"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_gbnf("root ::= missing"); }).find("'missing' is used but never defined"), std::string::npos);
  EXPECT_NE(error_of([] { parse_gbnf("start ::= \"a\""); }).find("no rule named 'root'"), std::string::npos);
  EXPECT_NE(error_of([] { parse_gbnf("root ::= [α-ω]"); }).find("non-ASCII"), std::string::npos);
}

TEST(JsonSchema, ObjectsKeepTheirPropertiesAndOrder) {
  const json schema = json::parse(R"({"type":"object","properties":{
      "name":{"type":"string"}, "age":{"type":"integer","minimum":0}, "tags":{"type":"array","items":{"type":"string"}}},
      "required":["name"], "additionalProperties":false})");
  for (const char* ok : {R"({"name":"Ada"})", R"({"name": "Ada", "age": 36})", R"({ "name":"x","tags":["a","b"] })",
                         "{\n  \"name\": \"\\u00e9\\n\",\n  \"age\": 0\n}", R"({"name":"","age":1,"tags":[]})"})
    EXPECT_TRUE(schema_accepts(schema, ok)) << ok;
  for (const char* bad : {R"({})", R"({"age":3})", R"({"name":"a","age":-1})", R"({"name":"a","extra":1})",
                          R"({"name":"a","age":1.5})", R"({"name":"a",})", R"({"age":1,"name":"a"})"})
    EXPECT_FALSE(schema_accepts(schema, bad)) << bad;
}

TEST(JsonSchema, IntegerRangesAreExact) {
  const json schema = {{"type", "integer"}, {"minimum", -123}, {"maximum", 4567}};
  const auto g = json_schema_grammar(schema);
  for (int v = -1000; v <= 10000; v += (v > -200 && v < 5000) ? 1 : 7)
    ASSERT_EQ(accepts(g, std::to_string(v)), v >= -123 && v <= 4567) << v;
  EXPECT_FALSE(accepts(g, "007"));
  EXPECT_FALSE(accepts(g, "-0"));
  const auto ex = json_schema_grammar({{"type", "integer"}, {"exclusiveMinimum", 10}, {"exclusiveMaximum", 20}});
  EXPECT_FALSE(accepts(ex, "10"));
  EXPECT_TRUE(accepts(ex, "11"));
  EXPECT_TRUE(accepts(ex, "19"));
  EXPECT_FALSE(accepts(ex, "20"));
}

TEST(JsonSchema, NumberBoundsHoldForFractions) {
  const auto g = json_schema_grammar({{"type", "number"}, {"minimum", -2.5}, {"maximum", 3}});
  for (const char* ok : {"0", "3", "2.999", "-1.5", "-2", "0.25", "-0.5"}) EXPECT_TRUE(accepts(g, ok)) << ok;
  for (const char* bad : {"3.5", "4", "-3", "-2.75", "1e5"}) EXPECT_FALSE(accepts(g, bad)) << bad;
}

TEST(JsonSchema, StringsFormatsEnumsArrays) {
  EXPECT_TRUE(schema_accepts({{"type", "string"}, {"minLength", 2}, {"maxLength", 3}}, R"("ab")"));
  EXPECT_TRUE(schema_accepts({{"type", "string"}, {"minLength", 2}, {"maxLength", 3}}, R"("\né")"));
  EXPECT_FALSE(schema_accepts({{"type", "string"}, {"minLength", 2}, {"maxLength", 3}}, R"("abcd")"));
  EXPECT_TRUE(schema_accepts({{"type", "string"}, {"format", "date-time"}}, R"("2024-02-28T23:59:01.5Z")"));
  EXPECT_FALSE(schema_accepts({{"type", "string"}, {"format", "date"}}, R"("2024-02-30")"));
  EXPECT_TRUE(schema_accepts({{"type", "string"}, {"format", "uuid"}}, R"("123e4567-e89b-12d3-a456-426614174000")"));
  EXPECT_FALSE(schema_accepts({{"type", "string"}, {"format", "ipv4"}}, R"("256.1.1.1")"));
  EXPECT_TRUE(schema_accepts({{"type", "string"}, {"format", "ipv4"}}, R"("255.0.10.1")"));
  const json e = {{"enum", {"red", 1, nullptr, json::object({{"a", true}})}}};
  for (const char* ok : {R"("red")", "1", "null", R"({"a":true})"}) EXPECT_TRUE(schema_accepts(e, ok)) << ok;
  EXPECT_FALSE(schema_accepts(e, R"("blue")"));
  const json a = json::parse(R"({"type":"array","prefixItems":[{"const":"x"},{"type":"boolean"}],
                                 "items":{"type":"null"},"minItems":1,"maxItems":3})");
  for (const char* ok : {R"(["x"])", R"(["x",true])", R"(["x", false, null])"}) EXPECT_TRUE(schema_accepts(a, ok)) << ok;
  for (const char* bad : {"[]", R"(["y"])", R"(["x",true,null,null])", R"(["x",null])"})
    EXPECT_FALSE(schema_accepts(a, bad)) << bad;
}

TEST(JsonSchema, RefsRecurseAndUnionsChoose) {
  const json tree = json::parse(R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
      "v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}}})");
  EXPECT_TRUE(schema_accepts(tree, R"({"v":1,"kids":[{"v":2},{"v":3,"kids":[{"v":4}]}]})"));
  EXPECT_FALSE(schema_accepts(tree, R"({"v":1,"kids":[{"w":2}]})"));
  const json u = json::parse(R"({"oneOf":[
      {"type":"object","properties":{"kind":{"const":"a"},"x":{"type":"integer"}},"required":["kind","x"]},
      {"type":"object","properties":{"kind":{"const":"b"},"y":{"type":"string"}},"required":["kind"]}]})");
  EXPECT_TRUE(schema_accepts(u, R"({"kind":"a","x":1})"));
  EXPECT_TRUE(schema_accepts(u, R"({"kind":"b"})"));
  EXPECT_FALSE(schema_accepts(u, R"({"kind":"a"})"));
}

TEST(JsonSchema, UnsupportedKeywordsAreRefusedByName) {
  const auto err = [](const json& s) { return error_of([&] { json_schema_grammar(s, "response_format"); }); };
  EXPECT_NE(err(json::parse(R"({"type":"object","properties":{"a":{"type":"string","pattern":"^a+$"}}})"))
                .find("response_format at /properties/a: 'pattern' is not supported"),
            std::string::npos);
  EXPECT_NE(err({{"type", "number"}, {"multipleOf", 3}}).find("'multipleOf'"), std::string::npos);
  EXPECT_NE(err({{"type", "array"}, {"uniqueItems", true}}).find("'uniqueItems'"), std::string::npos);
  EXPECT_NE(err({{"type", "string"}, {"format", "hostname"}}).find("'hostname' is not supported"), std::string::npos);
  EXPECT_NE(err({{"oneOf", {{{"type", "string"}}, {{"type", "integer"}}}}}).find("'oneOf'"), std::string::npos);
  EXPECT_NE(err({{"$ref", "#/$defs/nowhere"}}).find("does not resolve"), std::string::npos);
  EXPECT_NE(err({{"type", "integer"}, {"minimum", 5}, {"maximum", 4}}).find("no integer"), std::string::npos);
  EXPECT_NE(err({{"frobnicate", 1}}).find("'frobnicate' is not supported"), std::string::npos);
}

// A random walk through the masks of Llama 3's vocabulary: each step takes a random
// allowed token; the walk must never reach a state without one, and must end (the grammar
// complete or an end token chosen where it accepts) with a document that parses.
TEST(TokenConstraint, RandomWalksOverARealVocabularyEndInValidDocuments) {
  const auto tok = Tokenizer::load(std::filesystem::path(MLXCPP_SOURCE_DIR) / "data/tokenizers/llama3");
  const std::vector<int32_t> ends{*tok->token_to_id("<|eot_id|>")};
  const auto vocab = std::make_shared<VocabularyTrie>(tok->token_bytes(), ends);
  const json schema = json::parse(R"({"type":"object","properties":{
      "id":{"type":"integer","minimum":1,"maximum":999},
      "name":{"type":"string","maxLength":12},
      "score":{"type":"number"},
      "ok":{"type":"boolean"},
      "tags":{"type":"array","items":{"enum":["a","b","c"]},"maxItems":3},
      "when":{"type":"string","format":"date"}},
      "required":["id","name","ok","when"],"additionalProperties":false})");
  TokenConstraint c(json_schema_grammar(schema), vocab);
  std::mt19937 rng(7);
  for (int walk = 0; walk < 40; ++walk) {
    int32_t state = c.start();
    std::string text;
    bool ended = false;
    for (int step = 0; step < 400 && !ended; ++step) {
      const auto mask = c.mask(state);
      std::vector<int32_t> allowed;
      for (int32_t id = 0; id < vocab->vocab(); ++id)
        if (mask_allows(*mask, id)) allowed.push_back(id);
      ASSERT_FALSE(allowed.empty()) << "dead end after: " << text;
      // Mostly short tokens, so that walks finish: prefer an end token once allowed.
      const bool can_end = mask_allows(*mask, ends[0]);
      const int32_t id = can_end && rng() % 2 ? ends[0] : allowed[rng() % allowed.size()];
      if (id == ends[0]) {
        ASSERT_TRUE(c.accepting(state)) << text;
        ended = true;
        break;
      }
      state = c.advance(state, id);
      ASSERT_NE(state, Automaton::kDead) << text << " + " << vocab->bytes(id);
      text += vocab->bytes(id);
      ended = c.finished(state);
    }
    if (!ended) continue;  // a walk that ran long (a long string): fine, no verdict
    const json doc = json::parse(text);  // throws if invalid
    EXPECT_TRUE(doc.at("id").is_number_integer() && doc["id"] >= 1 && doc["id"] <= 999) << text;
    EXPECT_TRUE(doc.at("ok").is_boolean()) << text;
    EXPECT_EQ(doc.at("when").get<std::string>().size(), 10u) << text;
  }
}

}  // namespace
}  // namespace mlxcpp::grammar
