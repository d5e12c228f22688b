// The Hub's JSON API as mlxcpp uses it (hf-hub.md §2–3): model search with Link-header
// pagination, revision → commit, and the recursive file tree of a commit.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hub/hub_settings.h"

namespace mlxcpp {

struct HubModel {
  std::string id, sha, library_name, pipeline_tag, last_modified;
  int64_t downloads = 0, likes = 0;
  bool gated = false;
  std::vector<std::string> tags;

  static HubModel from_json(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

struct SearchQuery {
  std::string search;  // substring of the repo id
  std::string author;  // e.g. mlx-community
  std::string sort = "downloads";
  std::vector<std::string> filters;  // tags, ANDed
  int limit = 20;
};

// GET /api/models, following rel="next" until `limit` models or the last page.
std::vector<HubModel> hub_search_models(const HubSettings& settings, const SearchQuery& query);

// The commit a branch or tag points at (GET /api/models/{id}/revision/{rev} → sha).
std::string hub_resolve_revision(const HubSettings& settings, const std::string& repo_id, const std::string& revision);

struct RepoFile {
  std::string path;
  uint64_t size = 0;
  std::string etag;  // lfs.oid (sha256) for LFS/Xet files, the git blob id otherwise
  bool lfs = false;
  std::string blob_id, xet_hash;
};

// One page of GET /api/models/{id}/tree: the file entries, validated (paths, etags).
std::vector<RepoFile> parse_tree_page(const nlohmann::json& page, const std::string& repo_id);

// Every file of a commit (GET /api/models/{id}/tree/{commit}?recursive=true, all pages).
// Paths that could escape the snapshot folder are refused (hf-hub.md §4.5).
std::vector<RepoFile> hub_list_files(const HubSettings& settings, const std::string& repo_id, const std::string& commit);

// The URL of rel="next" in a Link header (<url>; rel="next", …), or "".
std::string next_link(const std::string& link_header);

// Performs an authenticated JSON GET against the Hub with retries; throws HubError.
nlohmann::json hub_get_json(const HubSettings& settings, const std::string& url, const std::string& subject,
                            const std::string& repo_id, std::string* next_page = nullptr);

}  // namespace mlxcpp
