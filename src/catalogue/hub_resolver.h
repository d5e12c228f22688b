// Name resolution that also asks the Hub (when not offline): an id the Hub has is found even
// if the catalogue lacks it, and suggestions include the Hub's ids that resemble the name.
#pragma once

#include "catalogue/resolver.h"
#include "hub/hub_settings.h"

namespace mlxcpp {

// resolve_model_name with the models in the local cache as candidates too, then (unless
// offline) one quick Hub attempt: whether a repo id exists there, and a search for
// suggestions. Never the download retry ladder.
Resolution resolve_model_online(const Catalogue& catalogue, const std::string& name, const HubSettings& settings);

// The search text the Hub is asked for a name: its first two identity parts
// ("mlx-community/Llama-3.1-8B-Instruct-mlx" → "Llama-3.1").
std::string hub_search_text(const std::string& name);

}  // namespace mlxcpp
