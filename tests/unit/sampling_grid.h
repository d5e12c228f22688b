// The sampling filters' combinations that the host and GPU sampler tests draw with.
#pragma once

#include <random>
#include <vector>

#include "runtime/sampler.h"

namespace mlxcpp::test {

// Every combination of temperature (0, 0.7, 1.3), top_p (1, 0.9, 0.3), top_k (0, 1, 40) and
// min_p (0, 0.05, 0.5) — 81 — each with a seed from `gen` (min_tokens_to_keep 3 with top_k 1).
inline std::vector<SamplingParams> sampling_filter_grid(std::mt19937& gen) {
  std::vector<SamplingParams> grid;
  for (float temperature : {0.0f, 0.7f, 1.3f})
    for (float top_p : {1.0f, 0.9f, 0.3f})
      for (int top_k : {0, 1, 40})
        for (float min_p : {0.0f, 0.05f, 0.5f}) {
          SamplingParams p;
          p.temperature = temperature, p.top_p = top_p, p.top_k = top_k, p.min_p = min_p;
          p.min_tokens_to_keep = top_k == 1 ? 3 : 1;
          p.seed = uint64_t(gen());
          grid.push_back(p);
        }
  return grid;
}

}  // namespace mlxcpp::test
