// The catalogue's required content, and name resolution on the examples that the
// original integration got wrong (issue 5): the right id must come first.
#include "catalogue/catalogue.h"

#include <gtest/gtest.h>

#include <set>

#include "catalogue/resolver.h"
#include "format/model_config.h"
#include "test_support.h"
#include "util/error.h"

namespace mlxcpp {
namespace {

bool in_category(const Catalogue& c, const std::string& id, const std::string& cat) {
  const CatalogueEntry* e = c.find(id);
  return e && std::find(e->categories.begin(), e->categories.end(), cat) != e->categories.end();
}

TEST(Catalogue, HoldsTheRequiredModelsUnderTheirCategories) {
  const Catalogue c = Catalogue::builtin();
  EXPECT_EQ(c.default_model(), "mlx-community/Phi-3.5-mini-instruct-4bit");
  for (const char* id : {"mlx-community/CodeLlama-7b-mlx", "mlx-community/CodeLlama-7b-Python-mlx"}) EXPECT_TRUE(in_category(c, id, "code")) << id;
  for (const char* id : {"mlx-community/Meta-Llama-3.1-8B-Instruct-bf16", "mlx-community/Meta-Llama-3.1-8B-Instruct-4bit",
                         "mlx-community/Phi-3.5-mini-instruct-4bit", "mlx-community/Mistral-7B-Instruct-v0.2"})
    EXPECT_TRUE(in_category(c, id, "general")) << id;
  for (const char* id : {"mlx-community/Phi-3.5-mini-instruct-8bit", "mlx-community/Phi-3.5-mini-instruct-bf16"})
    EXPECT_NE(c.find(id), nullptr) << id;
  for (const char* id : {"mlx-community/TinyLlama-1.1B-Chat-v1.0-mlx", "mlx-community/Phi-3-mini-128k-instruct-4bit"})
    EXPECT_TRUE(in_category(c, id, "small-fast")) << id;
  for (const auto& e : c.entries()) {
    EXPECT_FALSE(e.evidence.empty()) << e.id;
    EXPECT_GT(e.size_gb, 0) << e.id;
    EXPECT_GT(e.context_length, 0) << e.id;
  }
}

// Issue 17's families, each under an mlx-community id, and loadable: an entry marked
// supported must name a model_type the engine has, or `generate` would fail on it.
TEST(Catalogue, HoldsTheNewArchitecturesAndEverySupportedOneLoads) {
  const Catalogue c = Catalogue::builtin();
  const auto& types = supported_model_types();
  for (const auto& e : c.entries())
    if (e.supported)
      EXPECT_NE(std::find(types.begin(), types.end(), e.architecture), types.end()) << e.id << ": " << e.architecture;
  std::set<std::string> archs;
  for (const auto& e : c.entries()) archs.insert(e.architecture);
  for (const char* a : {"gemma3_text", "gemma3", "qwen3_moe", "gpt_oss", "mixtral", "smollm3", "olmo2"})
    EXPECT_TRUE(archs.count(a)) << a;
  EXPECT_TRUE(in_category(c, "mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit", "code"));
  // A mixture of experts carries the parameters a token reads, which recommend's speed
  // estimate divides the bandwidth by; a dense model does not.
  for (const char* id : {"mlx-community/Qwen3-30B-A3B-Instruct-2507-4bit", "mlx-community/gpt-oss-20b-OptiQ-4bit",
                         "mlx-community/Mixtral-8x7B-Instruct-v0.1-4bit"}) {
    const CatalogueEntry* e = c.find(id);
    ASSERT_NE(e, nullptr) << id;
    EXPECT_TRUE(e->mixture()) << id;
    EXPECT_LT(e->active_parameters_b * 3, e->parameters_b) << id;
  }
  EXPECT_FALSE(c.find("mlx-community/gemma-3-1b-it-4bit")->mixture());
}

TEST(Catalogue, UserFileAddsAndReplacesEntries) {
  test::TempDir dir;
  test::write_bytes(dir / "user.json", R"({"models": [{"id": "me/My-Model-4bit", "categories": ["code"], "size_gb": 1.5,
      "context_length": 4096, "evidence": "mine"}, {"id": "mlx-community/CodeLlama-7b-mlx", "categories": ["code"],
      "best_for": "replaced", "size_gb": 13, "context_length": 16384, "evidence": "x"}]})");
  Catalogue c = Catalogue::builtin();
  const size_t before = c.entries().size();
  c.merge_file(dir / "user.json");
  EXPECT_EQ(c.entries().size(), before + 1);
  EXPECT_EQ(c.find("mlx-community/CodeLlama-7b-mlx")->best_for, "replaced");
  test::write_bytes(dir / "bad.json", R"({"models": [{"id": "a/b", "categories": ["cooking"]}]})");
  try {
    c.merge_file(dir / "bad.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown category 'cooking'"), std::string::npos);
  }
}

void expect_first(const std::string& name, const std::string& want) {
  const Resolution r = resolve_model_name(Catalogue::builtin(), name);
  ASSERT_FALSE(r.suggestions.empty()) << name;
  EXPECT_EQ(r.status, Resolution::SuggestionsOnly) << name;
  EXPECT_EQ(r.suggestions[0].id, want) << name;
  EXPECT_EQ(r.exit_code(), 3);
}

// Ollama's names are the family (punctuation dropped) and the size in the tag; without a
// tag, the family's largest model up to 10B parameters (Ollama's default tag for each).
TEST(Resolver, OllamaStyleNamesAreTheFamilyAndTheSize) {
  const auto found = [](const std::string& name) {
    const Resolution r = resolve_model_name(Catalogue::builtin(), name);
    return r.status == Resolution::Found ? r.id : "(not found: " + r.message + ")";
  };
  EXPECT_EQ(found("llama3.2"), "mlx-community/Llama-3.2-3B-Instruct-4bit");
  EXPECT_EQ(found("llama3.2:1b"), "mlx-community/Llama-3.2-1B-Instruct-4bit");
  EXPECT_EQ(found("phi3.5"), "mlx-community/Phi-3.5-mini-instruct-4bit");
  EXPECT_EQ(found("phi-3.5"), "mlx-community/Phi-3.5-mini-instruct-4bit");
  EXPECT_EQ(found("qwen2.5-coder:7b"), "mlx-community/Qwen2.5-Coder-7B-Instruct-4bit");
  EXPECT_EQ(found("qwen2.5:0.5b"), "mlx-community/Qwen2.5-0.5B-Instruct-4bit");
  EXPECT_EQ(found("gemma2:2b"), "mlx-community/gemma-2-2b-it-4bit");
  EXPECT_EQ(found("qwen3:30b"), "mlx-community/Qwen3-30B-A3B-Instruct-2507-4bit");
  EXPECT_EQ(found("mixtral:8x7b"), "mlx-community/Mixtral-8x7B-Instruct-v0.1-4bit");
  EXPECT_EQ(found("mixtral"), "mlx-community/Mixtral-8x7B-Instruct-v0.1-4bit");
  EXPECT_EQ(found("gpt-oss:20b"), "mlx-community/gpt-oss-20b-OptiQ-4bit");
  EXPECT_EQ(found("gemma3:27b"), "mlx-community/gemma-3-text-27b-it-4bit");
  EXPECT_EQ(found("olmo2"), "mlx-community/OLMo-2-1124-7B-Instruct-4bit");
  EXPECT_EQ(found("llama3.1:8b-instruct-q8_0"), "mlx-community/Meta-Llama-3.1-8B-Instruct-8bit");
  EXPECT_EQ(found("tinyllama"), "mlx-community/TinyLlama-1.1B-Chat-v1.0-mlx");
  EXPECT_NE(resolve_model_name(Catalogue::builtin(), "llama3.1:70b").status, Resolution::Found);  // no such size here
}

TEST(Resolver, PutsTheRightIdFirst) {
  expect_first("mlx-community/Llama-3.1-8B-Instruct-mlx", "mlx-community/Meta-Llama-3.1-8B-Instruct-4bit");
  expect_first("mlx-community/Phi-3.5-mini-4k-instruct-mlx", "mlx-community/Phi-3.5-mini-instruct-4bit");
  expect_first("mlx-community/Mistral-7B-Instruct-v0.2-mlx", "mlx-community/Mistral-7B-Instruct-v0.2");
  expect_first("mlx-community/Phi-3-mini-128k-instruct-mlx", "mlx-community/Phi-3-mini-128k-instruct-4bit");
  expect_first("llama 3.1 8b 4bit", "mlx-community/Meta-Llama-3.1-8B-Instruct-4bit");
  expect_first("llama 3.1 8b 8bit", "mlx-community/Meta-Llama-3.1-8B-Instruct-8bit");
  expect_first("codellama python", "mlx-community/CodeLlama-7b-Python-mlx");
}

TEST(Resolver, NonexistentCodeLlamaInstructOffersBothCodeLlamas) {
  const Resolution r = resolve_model_name(Catalogue::builtin(), "mlx-community/CodeLlama-7b-Instruct-mlx");
  ASSERT_GE(r.suggestions.size(), 2u);
  std::set<std::string> top{r.suggestions[0].id, r.suggestions[1].id};
  EXPECT_EQ(top, (std::set<std::string>{"mlx-community/CodeLlama-7b-mlx", "mlx-community/CodeLlama-7b-Python-mlx"}));
  EXPECT_NE(r.message.find("does not exist"), std::string::npos);
}

TEST(Resolver, ExactIdsPassAndNonsenseFindsNothing) {
  const Catalogue c = Catalogue::builtin();
  EXPECT_EQ(resolve_model_name(c, "mlx-community/Phi-3.5-mini-instruct-4bit").exit_code(), 0);
  const Resolution ci = resolve_model_name(c, "MLX-COMMUNITY/phi-3.5-MINI-instruct-4bit");
  EXPECT_EQ(ci.status, Resolution::Found);
  EXPECT_EQ(ci.id, "mlx-community/Phi-3.5-mini-instruct-4bit");
  const Resolution none = resolve_model_name(c, "zzzz qqqq xxxx");
  EXPECT_EQ(none.status, Resolution::Nothing);
  EXPECT_EQ(none.exit_code(), 4);
}

}  // namespace
}  // namespace mlxcpp
