// Name resolution: an exact catalogue id passes; anything else gets ranked suggestions
// from mlx-community's naming rules (an "-mlx" suffix or none, the "Meta-" prefix of
// Llama 3.1, "-Instruct" or not, quantization suffixes, version spelling, case) plus
// token overlap and edit distance. Short names ("phi-3.5", "llama 3.1 8b 4bit") work.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "catalogue/catalogue.h"

namespace mlxcpp {

struct Suggestion {
  std::string id;
  double score = 0;
  std::string why;
};

struct Resolution {
  enum Status { Found, SuggestionsOnly, Nothing } status = Nothing;
  std::string requested;
  std::string id;  // when Found
  std::vector<Suggestion> suggestions;
  std::string message;
  std::string hub;  // what the Hub said of the name, when it was asked (resolve_model_online)

  int exit_code() const { return status == Found ? 0 : status == SuggestionsOnly ? 3 : 4; }
  nlohmann::json to_json() const;
};

// `extra_ids` (e.g. from a Hub search) are ranked with the catalogue's entries; among equal
// scores the catalogue's verified ids come first.
Resolution resolve_model_name(const Catalogue& catalogue, const std::string& name, size_t max_suggestions = 5,
                              const std::vector<std::string>& extra_ids = {});

}  // namespace mlxcpp
