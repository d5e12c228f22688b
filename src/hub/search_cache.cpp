#include "hub/search_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "hub/hub_error.h"
#include "util/files.h"
#include "util/hash.h"

namespace mlxcpp {
namespace fs = std::filesystem;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

fs::path cache_file(const HubSettings& s, const SearchQuery& q) {
  std::string key = s.endpoint + "\n" + q.search + "\n" + q.author + "\n" + q.sort + "\n" + std::to_string(q.limit);
  for (const auto& f : q.filters) key += "\n" + f;
  return s.app_cache_dir / "search" / (sha256_hex(key).substr(0, 32) + ".json");
}

std::optional<nlohmann::json> read_cached(const fs::path& file) {
  if (!fs::is_regular_file(file)) return std::nullopt;
  auto j = nlohmann::json::parse(read_text_file(file), nullptr, false);
  if (!j.is_object() || !j.contains("models") || !j["models"].is_array() || !j.contains("fetched_at")) return std::nullopt;
  return j;
}

SearchOutcome from_cached(const nlohmann::json& j, const std::string& note) {
  SearchOutcome out;
  for (const auto& m : j["models"]) out.models.push_back(HubModel::from_json(m));
  out.source = "cache";
  out.age_s = std::max(0.0, now_s() - j["fetched_at"].get<double>());
  out.note = note;
  return out;
}

}  // namespace

nlohmann::json SearchOutcome::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : models) {
    nlohmann::json j = m.to_json();
    // Matches among the ids known here carry no Hub counts: unknown, not zero.
    if (source == "local")
      for (const char* field : {"downloads", "likes"}) j[field] = nullptr;
    list.push_back(j);
  }
  return {{"models", list}, {"source", source}, {"age_s", age_s}, {"note", note}};
}

SearchOutcome search_models_cached(const HubSettings& s, const SearchQuery& q, const std::vector<std::string>& local_ids) {
  const fs::path file = cache_file(s, q);
  const auto cached = read_cached(file);
  if (cached && now_s() - (*cached)["fetched_at"].get<double>() < s.search_ttl_s) return from_cached(*cached, "");
  std::string why;
  if (s.offline) {
    why = "HF_HUB_OFFLINE is set";
  } else {
    try {
      SearchOutcome out;
      out.models = hub_search_models(s, q);
      out.source = "hub";
      nlohmann::json list = nlohmann::json::array();
      for (const auto& m : out.models) {
        auto j = m.to_json();
        j["lastModified"] = m.last_modified;  // stored in the Hub's own field names
        j["library_name"] = m.library_name;
        list.push_back(j);
      }
      fs::create_directories(file.parent_path());
      write_file_atomic(file, nlohmann::json{{"fetched_at", now_s()}, {"query", q.search}, {"models", list}}.dump());
      return out;
    } catch (const HubError& e) {
      if (!e.transient()) throw;
      why = fmt::format("the Hub could not be reached ({})", e.what());
    }
  }
  if (cached) return from_cached(*cached, why + "; showing the cached answer");
  // No answer on disk: match the query against the ids known here.
  SearchOutcome out;
  out.source = "local";
  out.note = why + "; no cached answer for this query, so these are matches among the catalogue and cached models";
  const std::string needle = lower(q.search);
  for (const auto& id : local_ids) {
    if (!q.author.empty() && !id.starts_with(q.author + "/")) continue;
    if (!needle.empty() && lower(id).find(needle) == std::string::npos) continue;
    if (std::any_of(out.models.begin(), out.models.end(), [&](const HubModel& m) { return m.id == id; })) continue;
    HubModel m;
    m.id = id;
    out.models.push_back(m);
    if (int(out.models.size()) >= q.limit) break;
  }
  return out;
}

}  // namespace mlxcpp
