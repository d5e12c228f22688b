#include <cstdio>

#include "cli/commands.h"
#include "cli/quant_options.h"
#include "convert/convert.h"
#include "convert/presets.h"
#include "convert/synth.h"

namespace mlxcpp::cli {

void register_synth(CLI::App& app) {
  struct Opts {
    std::string like, dst, dtype = "bf16", tokenizer;
    QuantOptions quant;
    uint64_t seed = 0;
    int threads = 0;
    std::optional<int64_t> layers;
  };
  auto o = std::make_shared<Opts>();
  std::string presets;
  for (const auto& p : synth_presets()) presets += (presets.empty() ? "" : ", ") + p.name;
  auto* cmd = app.add_subcommand("synth", "Make a random-weight model with real shapes (for tests and benchmarks)");
  cmd->add_option("--like", o->like, "A preset (" + presets + ") or a config.json")->required();
  cmd->add_option("-o,--output", o->dst, "Output directory (must not exist)")->required();
  cmd->add_option("--dtype", o->dtype, "bf16, f16 or f32")
      ->check(CLI::IsMember({"bf16", "bfloat16", "f16", "float16", "f32", "float32"}));
  cmd->add_option("--seed", o->seed, "Random seed");
  cmd->add_option("--layers", o->layers, "Override the number of layers");
  cmd->add_option("--tokenizer", o->tokenizer, "Directory with tokenizer files (default: the preset's)");
  cmd->add_option("--threads", o->threads, "Worker threads (default: all cores)");
  o->quant.add_to(cmd);
  cmd->callback([o] {
    SynthOptions s;
    s.like = o->like;
    s.dtype = *parse_float_dtype(o->dtype);
    s.quant = o->quant.spec();
    s.seed = o->seed;
    s.threads = o->threads;
    s.layers = o->layers;
    if (!o->tokenizer.empty()) s.tokenizer_dir = o->tokenizer;
    const SynthResult r = synth_model(s, o->dst);
    std::fprintf(stderr, "wrote %s: %.3f B parameters, %.1f MB of tensors%s%s\n", o->dst.c_str(),
                 double(r.parameters) / 1e9, double(r.bytes) / 1e6, r.tokenizer.empty() ? "" : ", tokenizer from ",
                 r.tokenizer.c_str());
  });
}

}  // namespace mlxcpp::cli
