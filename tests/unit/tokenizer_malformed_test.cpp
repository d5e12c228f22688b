// Malformed tokenizer.json files give clear errors naming the file and the part at fault.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

using nlohmann::json;

json base() { return read_json_file(test::bundled_model() / "tokenizer.json"); }

std::string load_error(const std::string& text) {
  test::TempDir dir;
  test::write_bytes(dir / "tokenizer.json", text);
  try {
    Tokenizer::load(dir.path());
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find((dir / "tokenizer.json").string()), std::string::npos) << "message does not name the file: " << msg;
    return msg;
  }
  return "(loaded)";
}

TEST(TokenizerMalformed, EachDefectIsNamed) {
  struct Case {
    const char* what;
    std::function<void(json&)> mutate;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"model type", [](json& j) { j["model"]["type"] = "Unigram"; }, "model type 'Unigram' is not supported"},
      {"no model", [](json& j) { j.erase("model"); }, "missing 'model'"},
      {"vocab not object", [](json& j) { j["model"]["vocab"] = json::array(); }, "no 'vocab' object"},
      {"bad id", [](json& j) { j["model"]["vocab"]["Ġthe"] = -5; }, "is not a valid id"},
      {"merge unknown", [](json& j) { j["model"]["merges"].push_back("zzzz qqqq"); }, "missing from the vocabulary"},
      {"merge shape", [](json& j) { j["model"]["merges"].push_back(7); }, "neither 'a b' nor [a, b]"},
      {"bad regex", [](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed"; }, "cannot compile regex"},
      {"unknown normalizer", [](json& j) { j["normalizer"] = {{"type", "Precompiled"}}; }, "unsupported normalizer type 'Precompiled'"},
      {"unknown decoder", [](json& j) { j["decoder"] = {{"type", "CTC"}}; }, "unsupported decoder type 'CTC'"},
      {"unknown pre-tokenizer", [](json& j) { j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}}; }, "unsupported pre_tokenizer type"},
      {"added tokens shape", [](json& j) { j["added_tokens"] = json::array({{{"id", "x"}}}); }, "needs an integer 'id'"},
      {"template token", [](json& j) { j["post_processor"]["processors"][1]["single"][0]["SpecialToken"]["id"] = "<nope>"; }, "missing from special_tokens"},
      {"unk missing", [](json& j) { j["model"]["unk_token"] = "<not-there>"; }, "unk_token '<not-there>' is not in the vocabulary"},
      {"sparse ids (found by fuzzing)", [](json& j) { j["model"]["vocab"]["Ġthe"] = 2000000000; }, "ids must be dense"},
      {"wrong json type", [](json& j) { j["model"]["byte_fallback"] = "yes"; }, "malformed tokenizer"},
  };
  for (const auto& c : cases) {
    json j = base();
    c.mutate(j);
    const std::string msg = load_error(j.dump());
    EXPECT_NE(msg.find(c.expect), std::string::npos) << c.what << ": " << msg;
  }
  EXPECT_NE(load_error("{not json").find("invalid JSON"), std::string::npos);
  EXPECT_NE(load_error("[]").find("not a JSON object"), std::string::npos);
}

TEST(TokenizerMalformed, MissingFileSaysWhereItLooked) {
  test::TempDir dir;
  try {
    Tokenizer::load(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace mlxcpp
