// Hub settings come from huggingface_hub's environment variables, in its order.
#include <gtest/gtest.h>

#include <cstdlib>

#include "hub/hub_settings.h"
#include "test_support.h"

namespace mlxcpp {
namespace {

class HubSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HOME",
                          "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_IMPLICIT_TOKEN", "HF_HUB_CACHE"})
      ::unsetenv(v);
    ::setenv("HF_HOME", (tmp / "home").c_str(), 1);
  }
  test::TempDir tmp;
};

TEST_F(HubSettingsTest, DefaultsAreTheRealHubAndNoToken) {
  const HubSettings s = HubSettings::from_environment();
  EXPECT_EQ(s.endpoint, "https://huggingface.co");
  EXPECT_TRUE(s.token.empty());
  EXPECT_FALSE(s.offline);
  EXPECT_EQ(s.cache_dir, tmp / "home" / "hub");
}

TEST_F(HubSettingsTest, EndpointLosesItsTrailingSlash) {
  ::setenv("HF_ENDPOINT", "http://127.0.0.1:9/", 1);
  EXPECT_EQ(HubSettings::from_environment().endpoint, "http://127.0.0.1:9");
}

TEST_F(HubSettingsTest, TokenOrderEnvThenLegacyEnvThenFile) {
  std::filesystem::create_directories(tmp / "home");
  test::write_bytes(tmp / "home" / "token", "  hf_from_file \r\n");
  EXPECT_EQ(HubSettings::from_environment().token, "hf_from_file");
  ::setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy", 1);
  EXPECT_EQ(HubSettings::from_environment().token, "hf_legacy");
  ::setenv("HF_TOKEN", "hf_env", 1);
  const HubSettings s = HubSettings::from_environment();
  EXPECT_EQ(s.token, "hf_env");
  EXPECT_EQ(s.token_source, "HF_TOKEN");
  ::unsetenv("HF_TOKEN");
  ::unsetenv("HUGGING_FACE_HUB_TOKEN");
  test::write_bytes(tmp / "other-token", "hf_other\n");
  ::setenv("HF_TOKEN_PATH", (tmp / "other-token").c_str(), 1);
  EXPECT_EQ(HubSettings::from_environment().token, "hf_other");
}

TEST_F(HubSettingsTest, TokenGoesOnlyToTheEndpointHost) {
  ::setenv("HF_TOKEN", "hf_x", 1);
  ::setenv("HF_ENDPOINT", "http://127.0.0.1:8080", 1);
  HubSettings s = HubSettings::from_environment();
  EXPECT_EQ(s.authorization_for("http://127.0.0.1:8080/api/models"), "Bearer hf_x");
  EXPECT_EQ(s.authorization_for("http://localhost:8080/cdn/x"), "");
  EXPECT_EQ(s.authorization_for("http://127.0.0.1:8081/x"), "");
  ::setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1", 1);
  EXPECT_EQ(HubSettings::from_environment().authorization_for("http://127.0.0.1:8080/api/models"), "");
}

TEST_F(HubSettingsTest, OfflineFlagsAcceptHuggingFaceBooleans) {
  for (const char* v : {"1", "ON", "yes", "True"}) {
    ::setenv("HF_HUB_OFFLINE", v, 1);
    EXPECT_TRUE(HubSettings::from_environment().offline) << v;
  }
  ::setenv("HF_HUB_OFFLINE", "0", 1);
  EXPECT_FALSE(HubSettings::from_environment().offline);
  ::setenv("TRANSFORMERS_OFFLINE", "1", 1);
  EXPECT_TRUE(HubSettings::from_environment().offline);
}

}  // namespace
}  // namespace mlxcpp
