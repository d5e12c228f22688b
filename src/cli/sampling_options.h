// The sampling options shared by `generate`, `chat` and `bench` (--temp, --top-p, --top-k,
// --min-p, the penalties and their context sizes, --seed), declared once.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>

#include "runtime/sampler.h"
#include "cli/validators.h"

namespace mlxcpp::cli {

struct SamplingOptions {
  SamplingParams params;  // set defaults (chat's temperature) before add_to
  std::optional<uint64_t> seed;

  void add_to(CLI::App* cmd) {
    SamplingParams& p = params;
    // Out-of-range values are usage errors (exit 2) that name the flag, not the API field.
    cmd->add_option("--temp", p.temperature, "Temperature (0 = greedy)")->check(at_least(0))->capture_default_str();
    cmd->add_option("--top-p", p.top_p, "Nucleus sampling mass")->check(between(0, 1))->capture_default_str();
    cmd->add_option("--top-k", p.top_k, "Keep the k most likely tokens (0 = off)")->check(at_least(0))->capture_default_str();
    cmd->add_option("--min-p", p.min_p, "Drop tokens below min_p x the top probability")->check(between(0, 1))->capture_default_str();
    cmd->add_option("--repetition-penalty", p.repetition_penalty, "CTRL-style penalty (0 or 1 = off)")->check(at_least(0));
    cmd->add_option("--repetition-context-size", p.repetition_context_size, "Tokens the repetition penalty looks back")
        ->check(at_least(0))
        ->capture_default_str();
    cmd->add_option("--presence-penalty", p.presence_penalty, "Subtract once per distinct recent token");
    cmd->add_option("--frequency-penalty", p.frequency_penalty, "Subtract once per recent occurrence");
    cmd->add_option("--seed", seed, "Random seed (same seed and inputs → same tokens)");
  }

  // The parameters with the seed (the Sampler checks them).
  SamplingParams with_seed(std::optional<uint64_t> s) const {
    SamplingParams p = params;
    p.seed = s;
    return p;
  }
};

}  // namespace mlxcpp::cli
