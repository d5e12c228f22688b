#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "cli/sampling_options.h"
#include "runtime/engine.h"
#include "runtime/generator.h"
#include "util/error.h"

namespace mlxcpp::cli {
namespace {

struct Stat {
  double mean = 0, sd = 0;
};

Stat stat(const std::vector<double>& v) {
  Stat s;
  for (double x : v) s.mean += x;
  s.mean /= double(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0;
  return s;
}

// B sequences: their random prompts prefilled in one batched pass, then n tokens each
// decoded together, one batched step per token (each drawn as `generate` draws).
struct BatchRun {
  double prefill_tps = 0, decode_tps = 0;
};
BatchRun run_batch(Engine& model, int batch, int prompt, int gen, const SamplingOptions& sampling, std::mt19937& rng,
                   int rep) {
  using Clock = std::chrono::steady_clock;
  const int64_t vocab = model.config().vocab_size;
  std::vector<KvSequence> seqs;
  std::vector<std::vector<int32_t>> history(static_cast<size_t>(batch));
  std::vector<Sampler> samplers;
  std::vector<TokenDraw> draws(static_cast<size_t>(batch));
  std::vector<EngineStep> steps(static_cast<size_t>(batch));
  for (int b = 0; b < batch; ++b) {
    seqs.push_back(model.new_sequence());
    for (int i = 0; i < prompt; ++i) history[size_t(b)].push_back(int32_t(rng() % uint32_t(vocab)));
    samplers.emplace_back(sampling.with_seed(sampling.seed ? *sampling.seed + uint64_t(b) : uint64_t(rep * batch + b)));
  }
  BatchRun out;
  auto t0 = Clock::now();
  for (int b = 0; b < batch; ++b) {
    draws[size_t(b)] = samplers[size_t(b)].next_draw(history[size_t(b)], vocab);
    steps[size_t(b)] = {history[size_t(b)], &seqs[size_t(b)], StepOutput::Token, &draws[size_t(b)]};
  }
  model.forward(steps);
  out.prefill_tps = double(batch) * prompt / std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<int32_t> next(static_cast<size_t>(batch));
  t0 = Clock::now();
  for (int i = 0; i < gen; ++i) {
    for (int b = 0; b < batch; ++b) {
      next[size_t(b)] = steps[size_t(b)].token;
      history[size_t(b)].push_back(next[size_t(b)]);
      draws[size_t(b)] = samplers[size_t(b)].next_draw(history[size_t(b)], vocab);
      steps[size_t(b)] = {std::span<const int32_t>(&next[size_t(b)], 1), &seqs[size_t(b)], StepOutput::Token,
                          &draws[size_t(b)]};
    }
    model.forward(steps);
  }
  out.decode_tps = double(batch) * gen / std::chrono::duration<double>(Clock::now() - t0).count();
  return out;
}

}  // namespace

void register_bench(CLI::App& app) {
  struct Opts {
    std::string model;
    int prompt = 512, gen = 128, reps = 3, batch = 0;
    EngineFlags engine;
    SamplingOptions sampling;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("bench", "Prefill and decode speed (tokens/s, mean ± sd), like llama-bench");
  cmd->add_option("-m,--model", o->model, "Model directory or repo id (default: bundled)");
  auto* prompt_opt = cmd->add_option("-p,--n-prompt", o->prompt, "Prompt tokens for the prefill test")->capture_default_str();
  auto* gen_opt = cmd->add_option("-n,--n-gen", o->gen, "Tokens for the decode test")->capture_default_str();
  cmd->add_option("-r,--repetitions", o->reps, "Repetitions")->capture_default_str();
  cmd->add_option("-b,--batch", o->batch,
                  "B sequences prefilled and then decoding together after their -p prompts (aggregate tokens/s)");
  o->engine.add_to(cmd);
  o->sampling.add_to(cmd);  // the decode test draws as generate would (default: greedy)
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o, prompt_opt, gen_opt] {
    if (o->prompt < 1 || o->gen < 1 || o->reps < 1) fail("bench: -p, -n and -r must be positive");
    if (o->batch < 0) fail("bench: --batch must be positive");
    const auto dir = locate_model_or_bundled(o->model);
    const auto t_load0 = std::chrono::steady_clock::now();
    EngineFlags flags = o->engine;
    // The batch's sequences, whole, in the KV pool unless a size is given.
    if (o->batch > 0 && flags.kv_pool_tokens == 0)
      flags.kv_pool_tokens = int64_t(o->batch) * (o->prompt + o->gen + 2 * kKvBlock);
    auto model = flags.load(dir);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load0).count();
    const int64_t vocab = model->config().vocab_size;
    const int64_t context = model->config().context_length();
    // Defaults that do not fit a short-context model shrink to it (the same 4:1 split);
    // sizes that were given are the user's, and an error when they do not fit.
    if (o->prompt + o->gen > context && prompt_opt->count() == 0 && gen_opt->count() == 0) {
      o->gen = int(std::max<int64_t>(1, context / 5));
      o->prompt = int(std::max<int64_t>(1, context - o->gen));
      std::fprintf(stderr, "bench: the model's context is %lld tokens: -p %d -n %d (give -p and -n to choose)\n",
                   (long long)context, o->prompt, o->gen);
    }
    if (o->prompt + o->gen > context)
      fail("bench: -p {} + -n {} exceeds the model's context of {}", o->prompt, o->gen, model->config().context_length());
    std::mt19937 rng(0);
    std::vector<double> pp, tg;
    std::vector<float> logits;
    {
      // Warm-up, not counted (as llama-bench): first-use costs such as loading GPU kernels
      // and cuBLAS's choice of algorithm for these shapes.
      KvSequence cache = model->new_sequence();
      std::vector<int32_t> warm(size_t(o->prompt), 0);
      model->forward(warm, cache, logits);
      const int32_t tok = 0;
      for (int i = 0; i < 4; ++i) model->forward(std::span<const int32_t>(&tok, 1), cache, logits);
    }
    for (int r = 0; r < o->reps && o->batch > 0; ++r) {
      const BatchRun b = run_batch(*model, o->batch, o->prompt, o->gen, o->sampling, rng, r);
      pp.push_back(b.prefill_tps);
      tg.push_back(b.decode_tps);
    }
    for (int r = 0; r < o->reps && o->batch == 0; ++r) {
      std::vector<int32_t> prompt(size_t(o->prompt));
      for (auto& t : prompt) t = int32_t(rng() % uint32_t(vocab));
      {
        KvSequence cache = model->new_sequence();
        const auto t0 = std::chrono::steady_clock::now();
        model->forward(prompt, cache, logits);
        pp.push_back(o->prompt / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      {
        // Decode from a one-token start, as llama-bench's tg test does, each token drawn as
        // `generate` draws it (greedy by default; on a GPU the draw runs there).
        KvSequence cache = model->new_sequence();
        Sampler sampler(o->sampling.with_seed(o->sampling.seed ? o->sampling.seed : std::optional<uint64_t>(r)));
        std::vector<int32_t> history{prompt[0]};
        int32_t tok = model->forward_draw(history, cache, sampler.next_draw(history, vocab));
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < o->gen; ++i) {
          history.push_back(tok);
          tok = model->forward_draw(std::span<const int32_t>(&tok, 1), cache, sampler.next_draw(history, vocab));
        }
        tg.push_back(o->gen / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    const Stat p = stat(pp), t = stat(tg);
    const SamplingParams& sp = o->sampling.params;
    if (o->json) {
      std::printf("%s\n", nlohmann::json{{"model", dir.string()}, {"threads", model->threads()}, {"precision", o->engine.precision},
                                         {"device", device_name(model->device())}, {"device_description", model->device_description()},
                                         {"n_prompt", o->prompt}, {"n_gen", o->gen}, {"repetitions", o->reps}, {"batch", o->batch},
                                         {"kv_bytes_per_sequence", model->kv_bytes_per_position() * uint64_t(o->prompt + o->gen)},
                                         {"prefill_tps", p.mean}, {"prefill_tps_sd", p.sd}, {"decode_tps", t.mean},
                                         {"decode_tps_sd", t.sd}, {"load_seconds", load_s},
                                         {"sampling", {{"temperature", sp.temperature}, {"top_p", sp.top_p},
                                                       {"top_k", sp.top_k}, {"min_p", sp.min_p},
                                                       {"repetition_penalty", sp.repetition_penalty}}},
                                         {"weights_bytes", model->weight_bytes()}, {"peak_rss_bytes", peak_rss_bytes()}}
                                  .dump()
                                  .c_str());
    } else {
      std::printf("model %s, %s, %d threads, precision %s, load %.3f s\n", dir.c_str(),
                  model->device() == Device::Cuda ? model->device_description().c_str() : "cpu", model->threads(),
                  o->engine.precision.c_str(), load_s);
      if (o->batch > 0)
        std::printf("batch %d: aggregate tokens/s of %d sequences; KV cache %.1f MiB per sequence\n", o->batch, o->batch,
                    double(model->kv_bytes_per_position() * uint64_t(o->prompt + o->gen)) / double(1 << 20));
      std::printf("pp%-5d %10.2f ± %.2f tokens/s\n", o->prompt, p.mean, p.sd);
      std::printf("tg%-5d %10.2f ± %.2f tokens/s%s\n", o->gen, t.mean, t.sd,
                  sp.temperature == 0 ? "" : fmt::format(" (sampled: temp {} top_p {} top_k {} min_p {})", sp.temperature,
                                                         sp.top_p, sp.top_k, sp.min_p).c_str());
    }
  });
}

}  // namespace mlxcpp::cli
