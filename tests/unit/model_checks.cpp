#include "model_checks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "runtime/generator.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/files.h"

namespace mlxcpp::test {

namespace fs = std::filesystem;

double logits_error(DecoderLM& model, const nlohmann::json& ref) {
  const auto ids = ref["input_ids"].get<std::vector<int32_t>>();
  KVCache cache = model.new_cache(int64_t(ids.size()));
  std::vector<float> logits;
  model.forward(ids, cache, logits, /*all_logits=*/true);
  const auto& want = ref["logits"];
  const int64_t vocab = model.config().vocab_size;
  double max_err = 0, max_ref = 0;
  for (size_t t = 0; t < ids.size(); ++t)
    for (int64_t v = 0; v < vocab; ++v) {
      const double r = want[t][size_t(v)].get<double>();
      max_ref = std::max(max_ref, std::abs(r));
      max_err = std::max(max_err, std::abs(r - double(logits[t * size_t(vocab) + size_t(v)])));
    }
  return max_err / max_ref;
}

std::vector<int32_t> greedy_continuation(DecoderLM& model, const nlohmann::json& ref) {
  const auto prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  const size_t count = ref["greedy_ids"].size();
  KVCache cache = model.new_cache(int64_t(prompt.size() + count));
  std::vector<float> logits;
  model.forward(prompt, cache, logits);
  std::vector<int32_t> got;
  for (size_t i = 0; i < count; ++i) {
    const int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    got.push_back(next);
    model.forward(std::span<const int32_t>(&next, 1), cache, logits);
  }
  return got;
}

std::vector<float> logits_of_every_position(DecoderLM& model, const std::vector<int32_t>& ids, bool decode) {
  KVCache cache = model.new_cache(int64_t(ids.size()));
  std::vector<float> out, step;
  if (!decode) {
    model.forward(ids, cache, out, /*all_logits=*/true);
    return out;
  }
  for (size_t t = 0; t < ids.size(); ++t) {
    model.forward(std::span<const int32_t>(&ids[t], 1), cache, step);
    out.insert(out.end(), step.begin(), step.end());
  }
  return out;
}

void expect_reference_greedy(DecoderLM& model, const fs::path& dir, const fs::path& reference) {
  const auto ref = read_json_file(reference);
  const auto tok = Tokenizer::load(dir);
  const int32_t eos = 1;
  for (const auto& c : ref["cases"]) {
    SCOPED_TRACE(c["prompt"].get<std::string>());
    const auto prompt_ids = tok->encode(c["prompt"].get<std::string>(), true);
    EXPECT_EQ(prompt_ids, c["prompt_ids"].get<std::vector<int32_t>>());
    std::vector<int32_t> want = c["greedy_ids"].get<std::vector<int32_t>>();
    const bool ends_with_eos = !want.empty() && want.back() == eos;
    if (ends_with_eos) want.pop_back();
    GenerationRequest req;
    req.prompt = prompt_ids;
    req.max_tokens = int(want.size()) + (ends_with_eos ? 1 : 0);
    const GenerationResult r = generate(model, *tok, req);
    EXPECT_EQ(r.ids, want);
    if (ends_with_eos) EXPECT_EQ(r.finish_reason, "stop");
    if (c.contains("greedy_text")) EXPECT_EQ(r.text, c["greedy_text"].get<std::string>());
  }
}

std::vector<PerplexityCase> perplexity_cases() {
  return {{data_dir() / "models" / "fortune-tiny", data_dir() / "models" / "fortune-tiny" / "reference-perplexity.json"},
          {bundled_model(), bundled_model() / "reference-greedy.json"}};
}

double reference_perplexity(const fs::path& file) {
  return read_json_file(file)["perplexity"]["perplexity"].get<double>();
}

std::string fortunes_text() { return read_text_file(data_dir() / "models" / "eval" / "debian-fortunes.txt"); }

}  // namespace mlxcpp::test
