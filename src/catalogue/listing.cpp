#include "catalogue/listing.h"

#include <fmt/format.h>

#include <algorithm>

namespace mlxcpp {

nlohmann::ordered_json catalogue_listing(const Catalogue& cat, const ListingOptions& o) {
  nlohmann::ordered_json grouped = nlohmann::ordered_json::object();
  for (const auto& c : Catalogue::categories()) {
    if (!o.category.empty() && c != o.category) continue;
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& e : cat.entries()) {
      if (std::find(e.categories.begin(), e.categories.end(), c) == e.categories.end()) continue;
      std::optional<FitCheck> fit;
      if (o.fits) {
        fit = check_fit(estimate_memory(e, std::min(o.context, e.context_length)), *o.fits);
        if (!fit->fits) continue;
      }
      nlohmann::ordered_json m = {{"id", e.id},
                                  {"size", fmt::format("{:.1f}GB", e.size_gb)},
                                  {"best_for", e.best_for},
                                  {"size_gb", e.size_gb}};
      if (fit) m["fit"] = {{"device", fit->device}, {"arithmetic", fit->message}};
      const nlohmann::json facts = e.to_json();
      for (const auto& [k, v] : facts.items())
        if (!m.contains(k)) m[k] = v;
      list.push_back(m);
    }
    if (!list.empty()) grouped[c] = list;
  }
  return grouped;
}

}  // namespace mlxcpp
