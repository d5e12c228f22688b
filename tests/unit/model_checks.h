// Checks against the reference outputs shipped with the fixtures and the two real models,
// shared by the CPU tests and the CUDA tests (the same references, on either device).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/engine.h"

namespace mlxcpp::test {

// max |logit − reference| / max |reference| over every position of an arch fixture's
// input_ids (reference.json), all in one forward pass.
double logits_error(Engine& model, const nlohmann::json& ref);

// The fixture's prompt_ids continued greedily for as many tokens as its greedy_ids, one
// token at a time through the KV cache.
std::vector<int32_t> greedy_continuation(Engine& model, const nlohmann::json& ref);

// Logits of every position of `ids` ([position][vocab]), through the prefill path (all at
// once) or the decode path (one token at a time through the KV cache).
std::vector<float> logits_of_every_position(Engine& model, const std::vector<int32_t>& ids, bool decode);

// generate() reproduces every case of a reference-greedy.json: transformers' prompt ids,
// greedy tokens (a final EOS as finish_reason "stop") and text.
void expect_reference_greedy(Engine& model, const std::filesystem::path& dir, const std::filesystem::path& reference);

// The two real models with the file that holds each one's reference perplexity of the
// held-out fortunes (models/eval/debian-fortunes.txt).
struct PerplexityCase {
  std::filesystem::path dir, reference;
};
std::vector<PerplexityCase> perplexity_cases();
double reference_perplexity(const std::filesystem::path& file);
std::string fortunes_text();

}  // namespace mlxcpp::test

namespace mlxcpp::test {

// Sequences of different lengths run alone (prefill, then decode steps), then together in
// batches of random order and size, mixing prefill chunks and decode tokens: every logit
// of every sequence is the same bits both ways. Returns the number of logits compared.
int64_t expect_batch_invariance(Engine& model, uint32_t seed, int sequences = 7);

}  // namespace mlxcpp::test
