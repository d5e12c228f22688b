// The Hub client against the fake Hub on 127.0.0.1: snapshot layout compatible with
// huggingface_hub, resume, integrity, retries, errors told apart, offline mode, search
// pagination and its cache. Every fault-injection case ends with nothing corrupt in snapshots/.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include "fake_hub.h"
#include "catalogue/hub_resolver.h"
#include "hub/hf_cache.h"
#include "hub/hub_error.h"
#include "hub/http_client.h"
#include "hub/search_cache.h"
#include "hub/snapshot_download.h"
#include "test_support.h"
#include "util/files.h"
#include "util/hash.h"

namespace mlxcpp {
namespace {
namespace fs = std::filesystem;
using testing::FakeHub;
using testing::FakeRepo;
using testing::Fault;

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng());
  return s;
}

class HubClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo.id = "mlx-community/Test-Model-4bit";
    repo.commit = "0123456789abcdef0123456789abcdef01234567";
    repo.files = {{"config.json", R"({"model_type": "llama"})"},
                  {"model.safetensors", random_bytes(300000, 1)},
                  {"tokenizer.json", random_bytes(5000, 2)},
                  {"README.md", "# test\n"},
                  {"sub/dir/extra.bin", random_bytes(2000, 3)}};
    hub.add_repo(repo);
    hub.set_token("hf_secret");
    settings.endpoint = hub.endpoint();
    settings.cache_dir = tmp / "hub";
    settings.app_cache_dir = tmp / "mlxcpp";
    settings.retry_base_s = 0.05;
    settings.retry_cap_s = 0.2;
    settings.metadata_timeout_s = 5;
    settings.download_timeout_s = 5;
    settings.token = "hf_secret";
    settings.token_source = "test";
    ::setenv("HF_HUB_CACHE", settings.cache_dir.c_str(), 1);  // for locate_model
  }
  void TearDown() override { ::unsetenv("HF_HUB_CACHE"); }

  PullResult pull(const std::string& id = "mlx-community/Test-Model-4bit", std::vector<std::string> include = {},
                  std::vector<PullEvent>* events = nullptr) {
    PullOptions o;
    o.repo_id = id;
    o.include = std::move(include);
    return execute_pull(settings, plan_pull(settings, o), [events](const PullEvent& e) {
      if (events) events->push_back(e);
    });
  }

  fs::path repo_dir() const { return repo_folder(settings.cache_dir, repo.id); }
  fs::path pointer(const std::string& path) const { return repo_dir() / "snapshots" / repo.commit / path; }

  // Nothing but complete, verified blobs; every pointer resolves to the right bytes.
  void expect_cache_sound() {
    if (fs::exists(repo_dir() / "blobs"))
      for (const auto& b : fs::directory_iterator(repo_dir() / "blobs")) {
        const std::string name = b.path().filename().string();
        if (name.ends_with(".incomplete")) continue;
        EXPECT_EQ(file_digest_for_etag(b.path(), name), name) << "corrupt blob " << name;
      }
    if (fs::exists(repo_dir() / "snapshots"))
      for (const auto& e : fs::recursive_directory_iterator(repo_dir() / "snapshots")) {
        if (e.is_directory()) continue;
        const std::string path = e.path().lexically_relative(repo_dir() / "snapshots" / repo.commit).generic_string();
        ASSERT_TRUE(repo.files.count(path)) << path;
        EXPECT_EQ(read_text_file(e.path()), repo.files.at(path)) << path;
      }
  }

  test::TempDir tmp;
  FakeHub hub;
  FakeRepo repo;
  HubSettings settings;
};

TEST_F(HubClientTest, SnapshotHasTheHuggingFaceCacheLayout) {
  const PullResult r = pull();
  EXPECT_EQ(r.snapshot, repo_dir() / "snapshots" / repo.commit);
  EXPECT_EQ(r.downloaded_files, repo.files.size());
  for (const auto& [path, content] : repo.files) {
    const fs::path p = pointer(path);
    ASSERT_TRUE(fs::is_symlink(p)) << path;
    const std::string target = fs::read_symlink(p).string();
    EXPECT_TRUE(target.starts_with("../")) << "relative link expected: " << target;
    const std::string etag = content.size() >= repo.lfs_threshold ? sha256_hex(content) : git_blob_sha1_hex(content);
    EXPECT_EQ(fs::path(target).filename().string(), etag) << path;
    EXPECT_EQ(read_text_file(p), content) << path;
  }
  EXPECT_EQ(read_text_file(repo_dir() / "refs" / "main"), repo.commit);  // 40 hex, no newline
  const auto tree = read_json_file(repo_dir() / "trees" / (repo.commit + ".json"));
  EXPECT_EQ(tree["format_version"], 1);
  EXPECT_EQ(tree["files"].size(), repo.files.size());
  EXPECT_TRUE(tree["files"]["model.safetensors"].contains("lfs_sha256"));
  EXPECT_TRUE(fs::exists(settings.cache_dir / "CACHEDIR.TAG"));
  EXPECT_EQ(hub.token_leaks(), 0) << "the token went to the CDN host";
  EXPECT_GE(hub.requests_for("/api/models/" + repo.id + "/tree/"), 3) << "tree pagination not followed";
  EXPECT_EQ(locate_model(repo.id), r.snapshot);
  expect_cache_sound();
}

TEST_F(HubClientTest, SecondPullDownloadsNothing) {
  pull();
  const int before = hub.requests_for("/cdn/") + hub.requests_for("/" + repo.id + "/resolve/");
  const PullResult r = pull();
  EXPECT_EQ(r.downloaded_files, 0u);
  EXPECT_TRUE(r.plan.missing.empty());
  EXPECT_EQ(hub.requests_for("/cdn/") + hub.requests_for("/" + repo.id + "/resolve/"), before);
}

TEST_F(HubClientTest, IncludeAndExcludeUseFnmatchWhereStarCrossesSlashes) {
  EXPECT_TRUE(path_selected("sub/dir/extra.bin", {"*.bin"}, {}));
  EXPECT_TRUE(path_selected("sub/dir/extra.bin", {"sub/"}, {}));
  EXPECT_FALSE(path_selected("model.safetensors", {"*.json"}, {}));
  EXPECT_FALSE(path_selected("README.md", {}, {"*.md"}));
  EXPECT_FALSE(path_selected("Config.JSON", {"*.json"}, {}));  // case-sensitive, as fnmatchcase
  const PullResult r = pull(repo.id, {"*.json"});
  EXPECT_EQ(r.downloaded_files, 2u);
  EXPECT_TRUE(fs::exists(pointer("config.json")));
  EXPECT_FALSE(fs::exists(pointer("model.safetensors")));
}

TEST_F(HubClientTest, ConnectionDroppedMidFileResumesWithRange) {
  hub.set_fault(repo.id, "model.safetensors", Fault{.drop_times = 2, .drop_after = 100000});
  std::vector<PullEvent> events;
  const PullResult r = pull(repo.id, {}, &events);
  EXPECT_EQ(read_text_file(pointer("model.safetensors")), repo.files["model.safetensors"]);
  const auto resumed = std::count_if(events.begin(), events.end(), [](const PullEvent& e) {
    return e.kind == PullEvent::FileRetry && e.message.find("resuming at byte") != std::string::npos;
  });
  EXPECT_GE(resumed, 1);
  // Every byte once: the drops cost no re-download.
  uint64_t total = 0;
  for (const auto& [p, c] : repo.files) total += c.size();
  EXPECT_EQ(r.downloaded_bytes, total);
  expect_cache_sound();
}

TEST_F(HubClientTest, PartialFileFromAnEarlierRunIsResumed) {
  const std::string& content = repo.files["model.safetensors"];
  fs::create_directories(repo_dir() / "blobs");
  test::write_bytes(repo_dir() / "blobs" / (sha256_hex(content) + ".incomplete"), content.substr(0, 123456));
  const PullResult r = pull(repo.id, {"model.safetensors"});
  EXPECT_EQ(r.downloaded_bytes, content.size() - 123456);
  EXPECT_EQ(read_text_file(pointer("model.safetensors")), content);
}

TEST_F(HubClientTest, WrongBytesOnceAreDiscardedAndDownloadedAgain) {
  hub.set_fault(repo.id, "model.safetensors", Fault{.corrupt_times = 1});
  hub.set_fault(repo.id, "README.md", Fault{.corrupt_times = 1});  // a git file: sha1 check
  pull();
  expect_cache_sound();
  EXPECT_EQ(read_text_file(pointer("model.safetensors")), repo.files["model.safetensors"]);
}

TEST_F(HubClientTest, PersistentlyWrongBytesFailAndLeaveNothingVisible) {
  hub.set_fault(repo.id, "model.safetensors", Fault{.corrupt_times = 100});
  try {
    pull();
    FAIL() << "expected an integrity error";
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), HubError::Kind::Integrity);
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(pointer("model.safetensors")));
  EXPECT_FALSE(fs::exists(repo_dir() / "blobs" / sha256_hex(repo.files["model.safetensors"])));
  EXPECT_FALSE(fs::exists(repo_dir() / "refs" / "main")) << "a ref must only name a complete snapshot";
  EXPECT_THROW(locate_model(repo.id), Error);
  EXPECT_THROW(locate_model(repo.id + "@" + repo.commit), Error) << "a partial snapshot must not load";
  expect_cache_sound();
}

TEST_F(HubClientTest, ServerErrorsThenSuccessAreRetried) {
  hub.set_fault(repo.id, "model.safetensors", Fault{.status_times = 2, .status = 502});
  hub.set_fault(repo.id, "README.md", Fault{.status_times = 1, .status = 500});
  pull();
  expect_cache_sound();
  EXPECT_TRUE(fs::exists(pointer("model.safetensors")));
}

TEST_F(HubClientTest, RateLimitHonoursRetryAfter) {
  hub.set_fault(repo.id, "config.json", Fault{.status_times = 1, .status = 429, .retry_after_s = 1});
  const auto t0 = std::chrono::steady_clock::now();
  pull(repo.id, {"config.json"});
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(waited, 1.0) << "Retry-After: 1 was not honoured";
  EXPECT_TRUE(fs::exists(pointer("config.json")));
}

TEST_F(HubClientTest, SlowServerStillCompletes) {
  hub.set_fault(repo.id, "model.safetensors", Fault{.chunk_delay_s = 0.02});
  pull(repo.id, {"model.safetensors"});
  expect_cache_sound();
}

TEST_F(HubClientTest, ServerThatNeverRecoversFailsWithTheStatus) {
  hub.set_fault(repo.id, "config.json", Fault{.status_times = 1000, .status = 503});
  try {
    pull(repo.id, {"config.json"});
    FAIL();
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), HubError::Kind::Server);
    EXPECT_NE(std::string(e.what()).find("503"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(pointer("config.json")));
}

TEST_F(HubClientTest, MissingGatedPrivateAndBadTokenAreToldApart) {
  FakeRepo gated = repo, priv = repo;
  gated.id = "meta-llama/Gated-Model", gated.access = FakeRepo::Access::Gated;
  priv.id = "someone/Private-Model", priv.access = FakeRepo::Access::Private;
  hub.add_repo(gated);
  hub.add_repo(priv);
  const auto kind_of = [&](const std::string& id) {
    try {
      pull(id);
    } catch (const HubError& e) {
      return std::make_pair(e.kind(), std::string(e.what()));
    }
    return std::make_pair(HubError::Kind::Other, std::string("no error"));
  };
  settings.token.clear();
  auto [k1, m1] = kind_of("mlx-community/No-Such-Model");
  EXPECT_EQ(k1, HubError::Kind::RepoNotFound) << m1;
  EXPECT_NE(m1.find("mlxcpp resolve"), std::string::npos) << m1;
  auto [k2, m2] = kind_of(gated.id);
  EXPECT_EQ(k2, HubError::Kind::Gated) << m2;
  EXPECT_NE(m2.find("HF_TOKEN"), std::string::npos) << m2;
  auto [k3, m3] = kind_of(priv.id);
  EXPECT_EQ(k3, HubError::Kind::RepoNotFound) << m3;
  settings.token = "hf_wrong";
  auto [k4, m4] = kind_of(gated.id);
  EXPECT_EQ(k4, HubError::Kind::BadToken) << m4;
  hub.set_token("hf_right");
  settings.token = "hf_right";
  EXPECT_NO_THROW(pull(priv.id));
  EXPECT_NO_THROW(pull(gated.id));
  EXPECT_EQ(hub.token_leaks(), 0);
  PullOptions o;
  o.repo_id = repo.id;
  o.revision = "v9.9";
  try {
    plan_pull(settings, o);
    FAIL();
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), HubError::Kind::RevisionNotFound) << e.what();
  }
}

TEST_F(HubClientTest, OfflineModeUsesTheCacheAndNeverTheNetwork) {
  pull();
  settings.offline = true;
  const int before = hub.requests_for("/");
  PullOptions o;
  o.repo_id = repo.id;
  const PullPlan plan = plan_pull(settings, o);
  EXPECT_TRUE(plan.from_cache_only);
  EXPECT_EQ(plan.commit, repo.commit);
  EXPECT_TRUE(plan.missing.empty());
  o.repo_id = "mlx-community/Not-Cached";
  try {
    plan_pull(settings, o);
    FAIL();
  } catch (const HubError& e) {
    EXPECT_EQ(e.kind(), HubError::Kind::Offline);
    EXPECT_NE(std::string(e.what()).find("HF_HUB_OFFLINE"), std::string::npos);
  }
  EXPECT_EQ(hub.requests_for("/"), before) << "offline mode touched the network";
}

// A damaged trees/<commit>.json (wrong types, a size no integer type holds) is ignored: the
// offline plan lists the snapshot directory instead of failing on the JSON.
TEST_F(HubClientTest, OfflineIgnoresADamagedTreeCache) {
  pull();
  settings.offline = true;
  const fs::path trees = repo_dir() / "trees";
  ASSERT_TRUE(fs::is_directory(trees));
  for (const char* damaged : {R"({"format_version": 1, "files": {"config.json": {"size": "12"}}})",
                              R"({"format_version": 1, "files": {"config.json": {"size": 3e37}}})",
                              R"({"format_version": 1, "files": {"config.json": 7}})"}) {
    for (const auto& e : fs::directory_iterator(trees)) test::write_bytes(e.path(), damaged);
    PullOptions o;
    o.repo_id = repo.id;
    const PullPlan plan = plan_pull(settings, o);
    EXPECT_TRUE(plan.from_cache_only) << damaged;
    EXPECT_TRUE(plan.missing.empty()) << damaged;
  }
}

TEST_F(HubClientTest, OfflineRefusesAnIncompleteSnapshot) {
  pull(repo.id, {"*.json"});  // writes the full tree, downloads part of it, no ref for a partial pull? It has one.
  settings.offline = true;
  PullOptions o;
  o.repo_id = repo.id;
  o.include = {"*.safetensors"};
  try {
    plan_pull(settings, o);
    FAIL() << "the snapshot lacks model.safetensors";
  } catch (const HubError& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
}

TEST_F(HubClientTest, UnreachableHubFallsBackToTheCachedSnapshot) {
  pull();
  settings.endpoint = "http://127.0.0.1:1";  // nothing listens there
  settings.max_retries = 1;
  PullOptions o;
  o.repo_id = repo.id;
  const PullPlan plan = plan_pull(settings, o);
  EXPECT_TRUE(plan.from_cache_only);
  EXPECT_NE(plan.note.find("could not be reached"), std::string::npos);
}

TEST_F(HubClientTest, SearchFollowsPaginationAndIsCachedWithATtl) {
  for (int i = 0; i < 5; ++i) {
    FakeRepo r = repo;
    r.id = "mlx-community/Qwen-Search-" + std::to_string(i) + "-4bit";
    r.downloads = 100 * i;
    hub.add_repo(r);
  }
  SearchQuery q;
  q.search = "Qwen-Search";
  q.author = "mlx-community";
  q.limit = 4;
  const int before = hub.requests_for("/api/models");
  const SearchOutcome a = search_models_cached(settings, q, {});
  ASSERT_EQ(a.models.size(), 4u);
  EXPECT_EQ(a.source, "hub");
  EXPECT_EQ(a.models[0].id, "mlx-community/Qwen-Search-4-4bit");  // sorted by downloads
  EXPECT_EQ(hub.requests_for("/api/models") - before, 2) << "two pages of two";
  const SearchOutcome b = search_models_cached(settings, q, {});
  EXPECT_EQ(b.source, "cache");
  EXPECT_EQ(hub.requests_for("/api/models") - before, 2) << "within the TTL the cache answers";
  settings.search_ttl_s = 0;
  EXPECT_EQ(search_models_cached(settings, q, {}).source, "hub");
  settings.offline = true;
  const SearchOutcome c = search_models_cached(settings, q, {});
  EXPECT_EQ(c.source, "cache");
  EXPECT_EQ(c.models.size(), 4u);
  q.search = "Llama";
  const SearchOutcome d = search_models_cached(settings, q, {"mlx-community/Llama-3.2-1B-Instruct-4bit", "other/Llama"});
  EXPECT_EQ(d.source, "local");
  ASSERT_EQ(d.models.size(), 1u);
  EXPECT_EQ(d.models[0].id, "mlx-community/Llama-3.2-1B-Instruct-4bit");
}

TEST(HubHeaders, LinkAndRateLimitParsing) {
  EXPECT_EQ(next_link(R"(<https://hf.co/api/models?cursor=abc&limit=2>; rel="next")"), "https://hf.co/api/models?cursor=abc&limit=2");
  EXPECT_EQ(next_link(R"(<https://a/prev>; rel="prev", <https://a/next>; rel="next")"), "https://a/next");
  EXPECT_EQ(next_link(R"(<https://a/prev>; rel="prev")"), "");
  EXPECT_EQ(next_link(""), "");
  HttpResponse r;
  r.status = 429;
  r.headers["ratelimit"] = R"("api";r=0;t=17)";
  EXPECT_EQ(server_wait_seconds(r), 18);  // t + 1, as huggingface_hub
  r.headers["ratelimit"] = R"("api";r=5;t=17)";
  r.headers["retry-after"] = "3";
  EXPECT_EQ(server_wait_seconds(r), 3);
  r.headers.clear();
  EXPECT_EQ(server_wait_seconds(r), -1);
}

TEST_F(HubClientTest, ResolverAsksTheHubWhenOnline) {
  const Catalogue catalogue = Catalogue::builtin();
  // In the Hub, not in the catalogue: found.
  Resolution r = resolve_model_online(catalogue, repo.id, settings);
  EXPECT_EQ(r.status, Resolution::Found) << r.message;
  EXPECT_EQ(r.id, repo.id);
  // A wrong packaging of it: the Hub's id is suggested first, and the message says it is missing.
  r = resolve_model_online(catalogue, "mlx-community/Test-Model-mlx", settings);
  ASSERT_EQ(r.status, Resolution::SuggestionsOnly) << r.message;
  EXPECT_EQ(r.suggestions.at(0).id, repo.id);
  EXPECT_NE(r.message.find("does not exist on the Hub"), std::string::npos) << r.message;
  // The catalogue's own examples keep their first suggestion with the Hub consulted.
  r = resolve_model_online(catalogue, "mlx-community/Llama-3.1-8B-Instruct-mlx", settings);
  ASSERT_FALSE(r.suggestions.empty());
  EXPECT_EQ(r.suggestions[0].id, "mlx-community/Meta-Llama-3.1-8B-Instruct-4bit");
  // Offline: the catalogue only, and no request.
  settings.offline = true;
  const int before = hub.requests_for("/");
  r = resolve_model_online(catalogue, "mlx-community/Test-Model-mlx", settings);
  EXPECT_NE(r.status, Resolution::Found);
  EXPECT_NE(r.message.find("HF_HUB_OFFLINE"), std::string::npos);
  EXPECT_EQ(hub.requests_for("/"), before);
}

}  // namespace
}  // namespace mlxcpp
