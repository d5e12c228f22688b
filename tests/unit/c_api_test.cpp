// The C API through libmlxcpp.so (and the C++ RAII header over it): status codes with
// messages, buffer sizing, streaming callbacks that can stop generation, and the JSON
// entry points. The C header's C validity is checked by examples/generate_c.c (-std=c99
// -Wpedantic -Werror), built and run by tests/e2e/install_test.sh.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "mlxcpp/mlxcpp.hpp"
#include "test_support.h"

namespace {

class CApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mlxcpp_load_params p = mlxcpp_load_default_params();
    p.threads = 2;
    p.precision = 1;  // float32: transformers' greedy text on every CPU (the fast path's turns on some)
    ASSERT_EQ(mlxcpp_model_load(mlxcpp::test::bundled_model().c_str(), &p, &model), MLXCPP_OK) << mlxcpp_last_error();
  }
  void TearDown() override { mlxcpp_model_free(model); }
  mlxcpp_model* model = nullptr;
};

TEST_F(CApiTest, GreedyGenerationMatchesTheReference) {
  mlxcpp_generate_params p = mlxcpp_generate_default_params();
  p.max_tokens = 12;
  std::string streamed;
  mlxcpp_generation g{};
  ASSERT_EQ(mlxcpp_generate(model, "The best way to", 0, &p,
                            [](const char* t, size_t n, void* u) {
                              static_cast<std::string*>(u)->append(t, n);
                              return 0;
                            },
                            &streamed, &g),
            MLXCPP_OK);
  EXPECT_STREQ(g.text, " say that the man who, who knows it; that is");
  EXPECT_EQ(streamed, g.text);
  EXPECT_STREQ(g.finish_reason, "length");
  EXPECT_EQ(g.prompt_tokens, 5);
  EXPECT_EQ(g.generation_tokens, 12);
  mlxcpp_generation_free(&g);
}

TEST_F(CApiTest, CallbackCanStopGeneration) {
  mlxcpp_generate_params p = mlxcpp_generate_default_params();
  p.max_tokens = 100;
  int calls = 0;
  mlxcpp_generation g{};
  ASSERT_EQ(mlxcpp_generate(model, "The best way to", 0, &p, [](const char*, size_t, void* u) { return ++*static_cast<int*>(u) >= 2 ? 1 : 0; },
                            &calls, &g),
            MLXCPP_OK);
  EXPECT_STREQ(g.finish_reason, "cancelled");
  EXPECT_LT(g.generation_tokens, 100);
  mlxcpp_generation_free(&g);
}

TEST_F(CApiTest, TokenizeReportsTheNeededSize) {
  int32_t ids[2];
  size_t n = 0;
  EXPECT_EQ(mlxcpp_tokenize(model, "The best way to", 1, ids, 2, &n), MLXCPP_ERROR_BUFFER_TOO_SMALL);
  EXPECT_EQ(n, 5u);
  int32_t all[8];
  ASSERT_EQ(mlxcpp_tokenize(model, "The best way to", 1, all, 8, &n), MLXCPP_OK);
  EXPECT_EQ(std::vector<int32_t>(all, all + n), (std::vector<int32_t>{0, 317, 978, 722, 286}));
  char* text = nullptr;
  ASSERT_EQ(mlxcpp_detokenize(model, all + 1, n - 1, &text), MLXCPP_OK);
  EXPECT_STREQ(text, "The best way to");
  mlxcpp_free_string(text);
  const int32_t bad = 1 << 30;
  EXPECT_EQ(mlxcpp_detokenize(model, &bad, 1, &text), MLXCPP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mlxcpp_last_error()).find("vocabulary"), std::string::npos);
}

TEST_F(CApiTest, BadArgumentsAndMissingModelsAreStatusesWithMessages) {
  mlxcpp_generation g{};
  EXPECT_EQ(mlxcpp_generate(model, nullptr, 0, nullptr, nullptr, nullptr, &g), MLXCPP_ERROR_INVALID_ARGUMENT);
  mlxcpp_generate_params p = mlxcpp_generate_default_params();
  p.temperature = -1;
  EXPECT_EQ(mlxcpp_generate(model, "x", 0, &p, nullptr, nullptr, &g), MLXCPP_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(mlxcpp_last_error()).find("temperature"), std::string::npos) << mlxcpp_last_error();
  mlxcpp_model* m = nullptr;
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  EXPECT_EQ(mlxcpp_model_load("mlx-community/Llama-3.1-8B-Instruct-mlx", nullptr, &m), MLXCPP_ERROR_NOT_FOUND);
  EXPECT_NE(std::string(mlxcpp_last_error()).find("Meta-Llama-3.1-8B-Instruct-4bit"), std::string::npos) << mlxcpp_last_error();
  ::unsetenv("HF_HUB_OFFLINE");
  EXPECT_EQ(m, nullptr);
}

TEST_F(CApiTest, ChatTemplateAndJsonEntryPoints) {
  char* prompt = nullptr;
  ASSERT_EQ(mlxcpp_apply_chat_template(model, R"([{"role": "user", "content": "Hi"}])", 1, &prompt), MLXCPP_OK) << mlxcpp_last_error();
  EXPECT_NE(std::string(prompt).find("Hi"), std::string::npos);
  mlxcpp_free_string(prompt);
  char* json = nullptr;
  ASSERT_EQ(mlxcpp_catalogue_json("code", &json), MLXCPP_OK);
  EXPECT_TRUE(nlohmann::json::parse(json)["models"].contains("code"));
  mlxcpp_free_string(json);
  ASSERT_EQ(mlxcpp_recommend_json("general", 4096, 8, -1, &json), MLXCPP_OK);
  EXPECT_EQ(nlohmann::json::parse(json)["choice"]["id"], "mlx-community/Meta-Llama-3.1-8B-Instruct-4bit");
  mlxcpp_free_string(json);
}

TEST(CppApi, RaiiWrapperThrowsWithTheMessage) {
  mlxcpp::Model m(mlxcpp::test::bundled_model().string(), 2);
  mlxcpp::GenerateOptions o;
  o.max_tokens = 12;
  o.chat = false;
  // What the C API gives at the same (default) precision.
  mlxcpp_model* c = nullptr;
  mlxcpp_load_params lp = mlxcpp_load_default_params();
  lp.threads = 2;
  ASSERT_EQ(mlxcpp_model_load(mlxcpp::test::bundled_model().c_str(), &lp, &c), MLXCPP_OK);
  mlxcpp_generate_params gp = mlxcpp_generate_default_params();
  gp.max_tokens = 12;
  mlxcpp_generation g{};
  ASSERT_EQ(mlxcpp_generate(c, "The best way to", 0, &gp, nullptr, nullptr, &g), MLXCPP_OK);
  const std::string want = g.text;
  mlxcpp_generation_free(&g);
  mlxcpp_model_free(c);
  EXPECT_EQ(m.generate("The best way to", o).text, want);
  EXPECT_EQ(want.substr(0, 23), " say that the man who, ");  // (where the two paths agree)
  EXPECT_EQ(m.tokenize("The best way to").size(), 5u);
  try {
    mlxcpp::Model missing("/nonexistent/model/dir");
    FAIL();
  } catch (const mlxcpp::Failure& e) {
    EXPECT_NE(e.status(), MLXCPP_OK);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model/dir"), std::string::npos);
  }
}

}  // namespace
