#include "catalogue/hub_resolver.h"

#include <fmt/format.h>

#include <algorithm>

#include "hub/hf_cache.h"
#include "hub/hub_api.h"
#include "hub/hub_error.h"
#include "hub/search_cache.h"

namespace mlxcpp {

std::string hub_search_text(const std::string& name) {
  std::string s = name.substr(name.find('/') == std::string::npos ? 0 : name.find('/') + 1);
  std::vector<std::string> parts;
  std::string cur;
  for (char c : s + "-") {
    if (c == '-' || c == '_' || c == ' ') {
      std::string low = cur;
      for (auto& ch : low) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      if (!cur.empty() && low != "meta" && low != "mlx") parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (parts.empty()) return s;
  return parts.size() == 1 ? parts[0] : parts[0] + "-" + parts[1];
}

Resolution resolve_model_online(const Catalogue& catalogue, const std::string& name, const HubSettings& hub_settings) {
  // Suggestions are a courtesy: one quick attempt, no retry ladder, when the Hub is slow or away.
  HubSettings settings = hub_settings;
  settings.max_retries = 0;
  settings.metadata_timeout_s = std::min(settings.metadata_timeout_s, 5.0);
  // The models in the local cache are candidates too: a bare name of one is that model,
  // and a mistyped one is suggested even with the Hub away.
  const std::vector<std::string> cached = cached_model_ids(settings.cache_dir);
  Resolution r = resolve_model_name(catalogue, name, 5, cached);
  if (r.status == Resolution::Found) return r;
  if (settings.offline) {
    r.message += " (HF_HUB_OFFLINE is set: the catalogue only)";
    r.hub = "HF_HUB_OFFLINE is set, so the Hub was not asked";
    return r;
  }
  std::string hub_note;
  try {
    if (looks_like_repo_id(name)) {
      const RepoRef ref = parse_repo_ref(name);
      try {
        hub_resolve_revision(settings, ref.repo_id, ref.revision);
        Resolution found;
        found.requested = name;
        found.status = Resolution::Found;
        found.id = ref.repo_id;
        found.message = fmt::format("{} exists on the Hub (it is not in the catalogue, so its fit and support are "
                                    "unverified until it is pulled)", ref.repo_id);
        return found;
      } catch (const HubError& e) {
        if (e.kind() == HubError::Kind::Gated) {
          r.message = std::string(e.what());
          r.hub = r.message;
          return r;
        }
        if (e.kind() != HubError::Kind::RepoNotFound) throw;
        hub_note = " It does not exist on the Hub either.";
      }
    }
    SearchQuery q;
    q.search = hub_search_text(name);
    q.author = name.find('/') != std::string::npos ? name.substr(0, name.find('/')) : "mlx-community";
    q.limit = 100;
    std::vector<std::string> ids = cached;
    for (const auto& m : search_models_cached(settings, q, {}).models) ids.push_back(m.id);
    Resolution with_hub = resolve_model_name(catalogue, name, 5, ids);
    if (with_hub.status == Resolution::Found) return with_hub;
    with_hub.message += hub_note;
    if (!hub_note.empty()) with_hub.hub = "repository not found on the Hub";
    return with_hub;
  } catch (const HubError& e) {
    r.message += fmt::format(" (the Hub was not consulted: {})", e.what());
    r.hub = fmt::format("the Hub could not be reached ({})", e.what());
    return r;
  }
}

}  // namespace mlxcpp
