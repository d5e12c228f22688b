#include "model_checks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "runtime/generator.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/files.h"

namespace mlxcpp::test {

namespace fs = std::filesystem;

double logits_error(Engine& model, const nlohmann::json& ref) {
  const auto ids = ref["input_ids"].get<std::vector<int32_t>>();
  KvSequence cache = model.new_sequence();
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

std::vector<int32_t> greedy_continuation(Engine& model, const nlohmann::json& ref) {
  const auto prompt = ref["prompt_ids"].get<std::vector<int32_t>>();
  const size_t count = ref["greedy_ids"].size();
  KvSequence cache = model.new_sequence();
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

std::vector<float> logits_of_every_position(Engine& model, const std::vector<int32_t>& ids, bool decode) {
  KvSequence cache = model.new_sequence();
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

void expect_reference_greedy(Engine& model, const fs::path& dir, const fs::path& reference) {
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

namespace mlxcpp::test {

int64_t expect_batch_invariance(Engine& model, uint32_t seed, int sequences) {
  std::mt19937 rng(seed);
  const int32_t vocab = int32_t(model.config().vocab_size);
  // Each sequence: a prompt (a prefill chunk, or 2-3 tokens), then decode steps.
  struct Seq {
    std::vector<int32_t> prompt, decode;
    std::vector<float> alone;  // every step's last logits, in order
  };
  std::vector<Seq> seqs;
  for (int s = 0; s < sequences; ++s) {
    Seq q;
    const int prompt = s == 0 ? 2 : s == 1 ? 3 : int(rng() % 40) + 5;
    for (int i = 0; i < prompt; ++i) q.prompt.push_back(int32_t(rng() % uint32_t(vocab)));
    for (int i = 0; i < 6; ++i) q.decode.push_back(int32_t(rng() % uint32_t(vocab)));
    seqs.push_back(std::move(q));
  }
  std::vector<float> logits;
  for (Seq& q : seqs) {
    KvSequence kv = model.new_sequence();
    model.forward(q.prompt, kv, logits);
    q.alone = logits;
    for (const int32_t t : q.decode) {
      model.forward(std::span<const int32_t>(&t, 1), kv, logits);
      q.alone.insert(q.alone.end(), logits.begin(), logits.end());
    }
  }
  int64_t compared = 0;
  for (int round = 0; round < 3; ++round) {
    // Every sequence advances one step per batched call (its prompt first), in a shuffled
    // order; some sit a call out, so prefill and decode steps mix.
    std::vector<KvSequence> kv;
    for (size_t s = 0; s < seqs.size(); ++s) kv.push_back(model.new_sequence());
    std::vector<size_t> step(seqs.size(), 0);
    std::vector<std::vector<float>> got(seqs.size());
    std::vector<std::vector<float>> out(seqs.size());
    for (;;) {
      std::vector<size_t> order;
      for (size_t s = 0; s < seqs.size(); ++s)
        if (step[s] <= seqs[s].decode.size() && rng() % 4 != 0) order.push_back(s);
      bool left = false;
      for (size_t s = 0; s < seqs.size(); ++s) left = left || step[s] <= seqs[s].decode.size();
      if (!left) break;
      std::shuffle(order.begin(), order.end(), rng);
      std::vector<EngineStep> steps;
      for (const size_t s : order) {
        std::span<const int32_t> tokens = step[s] == 0 ? std::span<const int32_t>(seqs[s].prompt)
                                                       : std::span<const int32_t>(&seqs[s].decode[step[s] - 1], 1);
        steps.push_back({tokens, &kv[s], StepOutput::Logits, nullptr, &out[s]});
      }
      if (steps.empty()) continue;
      model.forward(steps);
      for (const size_t s : order) {
        got[s].insert(got[s].end(), out[s].begin(), out[s].end());
        ++step[s];
      }
    }
    for (size_t s = 0; s < seqs.size(); ++s) {
      EXPECT_EQ(got[s].size(), seqs[s].alone.size());
      for (size_t i = 0; i < got[s].size() && i < seqs[s].alone.size(); ++i) {
        if (got[s][i] != seqs[s].alone[i]) {
          ADD_FAILURE() << "sequence " << s << " step " << i / size_t(vocab) << " logit " << i % size_t(vocab) << ": "
                        << got[s][i] << " in a batch, " << seqs[s].alone[i] << " alone";
          return compared;
        }
        ++compared;
      }
    }
  }
  return compared;
}

}  // namespace mlxcpp::test
