// Locating models: repo-id validation and the Hugging Face cache layout (hf-hub.md §5).
#include "hub/hf_cache.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "test_support.h"
#include "util/error.h"

namespace mlxcpp {
namespace {

namespace fs = std::filesystem;

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(RepoRef, ParsesIdsAndRevisions) {
  EXPECT_EQ(parse_repo_ref("mlx-community/Phi-3.5-mini-instruct-4bit").revision, "main");
  const RepoRef r = parse_repo_ref("mlx-community/Qwen3-0.6B-4bit@refs/pr/1");
  EXPECT_EQ(r.repo_id, "mlx-community/Qwen3-0.6B-4bit");
  EXPECT_EQ(r.revision, "refs/pr/1");
}

TEST(RepoRef, RejectsTraversalAndInvalidIds) {
  for (const char* bad : {"../etc", "org/../x", "org/..", "/abs/path", "org/name/extra", "org//name", "org/na me",
                          "org/-name", "org/name.", "or--g/name", "org/name@../../x", "org/name@/abs",
                          "org/name@a\\b", "org/name@", "justname"}) {
    EXPECT_THROW(parse_repo_ref(bad), Error) << bad;
  }
}

TEST(HubCache, DirectoryFollowsEnvironmentPrecedence) {
  ScopedEnv home("HOME", "/home/u");
  ScopedEnv a("HF_HUB_CACHE", "");
  ScopedEnv b("HUGGINGFACE_HUB_CACHE", "");
  ScopedEnv c("HF_HOME", "");
  ScopedEnv d("XDG_CACHE_HOME", "");
  EXPECT_EQ(hub_cache_dir(), fs::path("/home/u/.cache/huggingface/hub"));
  ScopedEnv x("XDG_CACHE_HOME", "/xdg");
  EXPECT_EQ(hub_cache_dir(), fs::path("/xdg/huggingface/hub"));
  ScopedEnv h("HF_HOME", "~/hf");
  EXPECT_EQ(hub_cache_dir(), fs::path("/home/u/hf/hub"));
  ScopedEnv l("HUGGINGFACE_HUB_CACHE", "/legacy");
  EXPECT_EQ(hub_cache_dir(), fs::path("/legacy"));
  ScopedEnv n("HF_HUB_CACHE", "/new");
  EXPECT_EQ(hub_cache_dir(), fs::path("/new"));
}

TEST(HubCache, LocatesSnapshotsThroughRefs) {
  test::TempDir cache;
  ScopedEnv env("HF_HUB_CACHE", cache.path().string());
  const std::string commit = "0123456789abcdef0123456789abcdef01234567";
  const fs::path repo = cache / "models--mlx-community--Tiny-4bit";
  fs::create_directories(repo / "snapshots" / commit);
  fs::create_directories(repo / "refs");
  test::write_bytes(repo / "refs" / "main", commit);  // no newline, as huggingface_hub writes it
  EXPECT_EQ(locate_model("mlx-community/Tiny-4bit"), repo / "snapshots" / commit);
  EXPECT_EQ(locate_model("mlx-community/Tiny-4bit@" + commit), repo / "snapshots" / commit);
  try {
    locate_model("mlx-community/Other-4bit");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find((cache / "models--mlx-community--Other-4bit").string()), std::string::npos);
  }
  test::write_bytes(repo / "refs" / "main", "garbage");
  EXPECT_THROW(locate_model("mlx-community/Tiny-4bit"), Error);
}

TEST(HubCache, LocalDirectoriesWin) {
  EXPECT_EQ(locate_model(test::bundled_model().string()), test::bundled_model());
  EXPECT_THROW(locate_model("/definitely/not/here"), Error);
}

}  // namespace
}  // namespace mlxcpp
