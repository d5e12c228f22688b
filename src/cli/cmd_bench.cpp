#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "cli/sampling_options.h"
#include "model/decoder_lm.h"
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

}  // namespace

void register_bench(CLI::App& app) {
  struct Opts {
    std::string model;
    int prompt = 512, gen = 128, reps = 3;
    EngineOptions engine;
    SamplingOptions sampling;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("bench", "Prefill and decode speed (tokens/s, mean ± sd), like llama-bench");
  cmd->add_option("-m,--model", o->model, "Model directory or repo id (default: bundled)");
  cmd->add_option("-p,--n-prompt", o->prompt, "Prompt tokens for the prefill test")->capture_default_str();
  cmd->add_option("-n,--n-gen", o->gen, "Tokens for the decode test")->capture_default_str();
  cmd->add_option("-r,--repetitions", o->reps, "Repetitions")->capture_default_str();
  o->engine.add_to(cmd);
  o->sampling.add_to(cmd);  // the decode test draws as generate would (default: greedy)
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o] {
    if (o->prompt < 1 || o->gen < 1 || o->reps < 1) fail("bench: -p, -n and -r must be positive");
    const auto dir = locate_model_or_bundled(o->model);
    const auto t_load0 = std::chrono::steady_clock::now();
    auto model = o->engine.load(dir);
    const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load0).count();
    const int64_t vocab = model->config().vocab_size;
    if (o->prompt + o->gen > model->config().context_length())
      fail("bench: -p {} + -n {} exceeds the model's context of {}", o->prompt, o->gen, model->config().context_length());
    std::mt19937 rng(0);
    std::vector<double> pp, tg;
    std::vector<float> logits;
    {
      // Warm-up, not counted (as llama-bench): first-use costs such as loading GPU kernels
      // and cuBLAS's choice of algorithm for these shapes.
      KVCache cache = model->new_cache(o->prompt + 4);
      std::vector<int32_t> warm(size_t(o->prompt), 0);
      model->forward(warm, cache, logits);
      const int32_t tok = 0;
      for (int i = 0; i < 4; ++i) model->forward(std::span<const int32_t>(&tok, 1), cache, logits);
    }
    for (int r = 0; r < o->reps; ++r) {
      std::vector<int32_t> prompt(size_t(o->prompt));
      for (auto& t : prompt) t = int32_t(rng() % uint32_t(vocab));
      {
        KVCache cache = model->new_cache(o->prompt);
        const auto t0 = std::chrono::steady_clock::now();
        model->forward(prompt, cache, logits);
        pp.push_back(o->prompt / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      {
        // Decode from a one-token start, as llama-bench's tg test does, each token drawn as
        // `generate` draws it (greedy by default; on a GPU the draw runs there).
        KVCache cache = model->new_cache(o->gen + 1);
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
                                         {"n_prompt", o->prompt}, {"n_gen", o->gen}, {"repetitions", o->reps},
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
      std::printf("pp%-5d %10.2f ± %.2f tokens/s\n", o->prompt, p.mean, p.sd);
      std::printf("tg%-5d %10.2f ± %.2f tokens/s%s\n", o->gen, t.mean, t.sd,
                  sp.temperature == 0 ? "" : fmt::format(" (sampled: temp {} top_p {} top_k {} min_p {})", sp.temperature,
                                                         sp.top_p, sp.top_k, sp.min_p).c_str());
    }
  });
}

}  // namespace mlxcpp::cli
