// `search` with an on-disk cache: answers younger than the TTL are reused, the Hub is asked
// otherwise, and offline (or with the Hub unreachable) the last answer is used whatever its
// age — or, when there is none, the ids the caller knows locally (catalogue, cache).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hub/hub_api.h"

namespace mlxcpp {

struct SearchOutcome {
  std::vector<HubModel> models;
  std::string source;  // "hub", "cache" or "local"
  double age_s = 0;    // of the cached answer
  std::string note;
  nlohmann::json to_json() const;
};

SearchOutcome search_models_cached(const HubSettings& settings, const SearchQuery& query,
                                   const std::vector<std::string>& local_ids);

}  // namespace mlxcpp
