// The catalogue grouped by category, in the JSON shape the original MLX tool returned
// (models → {category: [{id, size, best_for, size_gb}]}) plus the catalogue's facts; shared
// by `mlxcpp list`, the MCP list_models tool and the `mlx` compatibility tool.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "catalogue/recommend.h"

namespace mlxcpp {

struct ListingOptions {
  std::string category;                // "" for all
  std::optional<MemoryBudget> fits;    // only models that fit this budget
  int64_t context = kDefaultContext;   // for the fit check (capped at each model's own)
};

// {category: [model, ...]} in the catalogue's category order; empty categories omitted.
nlohmann::ordered_json catalogue_listing(const Catalogue& catalogue, const ListingOptions& options);

}  // namespace mlxcpp
