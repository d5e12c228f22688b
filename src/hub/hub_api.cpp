#include "hub/hub_api.h"

#include <fmt/format.h>


#include "hub/hf_cache.h"
#include "hub/http_client.h"
#include "hub/hub_error.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

}  // namespace

std::string next_link(const std::string& link_header) {
  size_t pos = 0;
  while ((pos = link_header.find('<', pos)) != std::string::npos) {
    const size_t close = link_header.find('>', pos);
    if (close == std::string::npos) return "";
    const size_t end = std::min(link_header.find('<', close), link_header.size());
    const std::string params = link_header.substr(close + 1, end - close - 1);
    if (params.find("rel=\"next\"") != std::string::npos || params.find("rel=next") != std::string::npos)
      return link_header.substr(pos + 1, close - pos - 1);
    pos = close;
  }
  return "";
}

namespace {

void check_relative_path(const std::string& path, const std::string& repo_id) {
  bool bad = path.empty() || path.front() == '/' || path.front() == '\\' || path.find('\\') != std::string::npos ||
             (path.size() >= 2 && path[1] == ':');
  size_t start = 0;
  while (!bad && start <= path.size()) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string seg = path.substr(start, end - start);
    if (seg == ".." || seg == "." || seg.empty()) bad = true;
    start = end + 1;
  }
  if (bad) fail("{}: the Hub listed the file path '{}', which could escape the cache; refusing it", repo_id, path);
}

// A byte count or counter: a non-negative JSON integer (a float such as 3e37 would be
// undefined behaviour to convert); `fallback` when absent or null.
uint64_t count_field(const nlohmann::json& j, const char* key, uint64_t fallback, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  const auto& v = j[key];
  if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0))
    fail("{}: '{}' is not a non-negative integer ({})", where, key, v.dump());
  return v.get<uint64_t>();
}

}  // namespace

HubModel HubModel::from_json(const nlohmann::json& j) {
  HubModel m;
  if (!j.is_object()) fail("a model entry from the Hub is not a JSON object");
  try {
    m.id = j.value("id", j.value("modelId", ""));
    m.sha = j.value("sha", "");
    m.library_name = j.value("library_name", "");
    m.pipeline_tag = j.value("pipeline_tag", "");
    m.last_modified = j.value("lastModified", "");
    m.downloads = int64_t(count_field(j, "downloads", 0, "a model entry from the Hub"));
    m.likes = int64_t(count_field(j, "likes", 0, "a model entry from the Hub"));
    if (j.contains("gated")) m.gated = j["gated"].is_string() || (j["gated"].is_boolean() && j["gated"].get<bool>());
    if (j.contains("tags") && j["tags"].is_array())
      for (const auto& t : j["tags"])
        if (t.is_string()) m.tags.push_back(t.get<std::string>());
  } catch (const nlohmann::json::exception& ex) {
    fail("malformed model entry from the Hub: {}", json_error_text(ex));
  }
  return m;
}

nlohmann::json HubModel::to_json() const {
  return {{"id", id}, {"sha", sha}, {"downloads", downloads}, {"likes", likes}, {"library_name", library_name},
          {"pipeline_tag", pipeline_tag}, {"last_modified", last_modified}, {"gated", gated}, {"tags", tags}};
}

nlohmann::json hub_get_json(const HubSettings& s, const std::string& url, const std::string& subject,
                            const std::string& repo_id, std::string* next_page) {
  if (s.offline) throw HubError(HubError::Kind::Offline, fmt::format("{}: HF_HUB_OFFLINE is set; not contacting {}", subject, s.endpoint));
  const HttpResponse r = with_retries(s, subject, [&] {
    HttpRequest req;
    req.url = url;
    req.follow_redirects = true;  // renamed repos answer 307 with a relative Location
    req.connect_timeout_s = req.stall_timeout_s = s.metadata_timeout_s;
    req.headers = {"Accept: application/json", "User-Agent: " + s.user_agent};
    if (auto auth = s.authorization_for(url); !auth.empty()) req.headers.push_back("Authorization: " + auth);
    return http_perform(req);
  });
  if (!r.ok()) throw hub_error_for(r, subject, repo_id, s);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) fail("{}: the Hub answered with something that is not JSON ({} bytes)", subject, r.body.size());
  if (next_page) *next_page = next_link(r.header("link"));
  return j;
}

std::vector<HubModel> hub_search_models(const HubSettings& s, const SearchQuery& q) {
  std::string url = s.endpoint + "/api/models?limit=" + std::to_string(std::clamp(q.limit, 1, 500));
  if (!q.search.empty()) url += "&search=" + url_encode(q.search);
  if (!q.author.empty()) url += "&author=" + url_encode(q.author);
  if (!q.sort.empty()) url += "&sort=" + url_encode(q.sort);
  for (const auto& f : q.filters) url += "&filter=" + url_encode(f);
  for (const char* field : {"downloads", "likes", "lastModified", "library_name", "pipeline_tag", "tags", "gated", "sha"})
    url += std::string("&expand=") + field;
  std::vector<HubModel> models;
  while (!url.empty() && int(models.size()) < q.limit) {
    std::string next;
    const auto page = hub_get_json(s, url, "search '" + q.search + "'", "", &next);
    if (!page.is_array()) fail("search '{}': expected a JSON array from {}", q.search, url);
    for (const auto& item : page) {
      if (int(models.size()) >= q.limit) break;
      try {
        models.push_back(HubModel::from_json(item));
      } catch (const Error&) {
        // An entry without the fields we read is skipped, not fatal to the whole search.
      }
    }
    url = next;
  }
  return models;
}

std::string hub_resolve_revision(const HubSettings& s, const std::string& repo_id, const std::string& revision) {
  const std::string url = s.endpoint + "/api/models/" + repo_id + "/revision/" + url_encode(revision);
  const auto info = hub_get_json(s, url, repo_id + "@" + revision, repo_id);
  const std::string sha = info.is_object() ? info.value("sha", "") : "";
  if (!is_commit_hash(sha)) fail("{}@{}: the Hub's answer has no 40-hex 'sha' for the revision", repo_id, revision);
  return sha;
}

std::vector<RepoFile> parse_tree_page(const nlohmann::json& page, const std::string& repo_id) {
  if (!page.is_array()) fail("{}: the file list from the Hub is not a JSON array", repo_id);
  std::vector<RepoFile> files;
  for (const auto& e : page) {
    if (!e.is_object() || !e.contains("type") || !e["type"].is_string() || e["type"] != "file") continue;
    RepoFile f;
    try {
      f.path = e.value("path", "");
      f.size = count_field(e, "size", 0, repo_id + " file list");
      f.blob_id = e.value("oid", "");
      f.xet_hash = e.value("xetHash", "");
      if (e.contains("lfs") && e["lfs"].is_object()) {
        f.lfs = true;
        f.etag = e["lfs"].value("oid", "");
        f.size = count_field(e["lfs"], "size", f.size, repo_id + " file list");
      } else {
        f.etag = f.blob_id;
      }
    } catch (const nlohmann::json::exception& ex) {
      fail("{}: malformed file entry in the Hub's file list: {}", repo_id, json_error_text(ex));
    }
    check_relative_path(f.path, repo_id);
    const bool hex = std::all_of(f.etag.begin(), f.etag.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    if (!hex || (f.etag.size() != 40 && f.etag.size() != 64))
      fail("{}: file '{}' has no usable etag in the Hub's file list ('{}')", repo_id, f.path, f.etag);
    files.push_back(std::move(f));
  }
  return files;
}

std::vector<RepoFile> hub_list_files(const HubSettings& s, const std::string& repo_id, const std::string& commit) {
  std::string url = s.endpoint + "/api/models/" + repo_id + "/tree/" + url_encode(commit) + "?recursive=true&expand=false";
  std::vector<RepoFile> files;
  while (!url.empty()) {
    std::string next;
    const auto page = hub_get_json(s, url, repo_id + " file list", repo_id, &next);
    for (auto& f : parse_tree_page(page, repo_id)) files.push_back(std::move(f));
    url = next;
  }
  return files;
}

}  // namespace mlxcpp
