#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/quant_options.h"
#include "convert/convert.h"
#include "hub/hf_cache.h"

namespace mlxcpp::cli {

void register_convert(CLI::App& app) {
  struct Opts {
    std::string src, dst, dtype;
    QuantOptions quant;
    int threads = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("convert", "Convert a Hugging Face safetensors checkpoint to MLX format");
  cmd->add_option("src", o->src, "Source model directory or repo id in the HF cache")->required();
  cmd->add_option("-o,--output", o->dst, "Output directory (must not exist)")->required();
  cmd->add_option("--dtype", o->dtype, "bf16, f16 or f32 (default: the config's torch_dtype)")
      ->check(CLI::IsMember({"bf16", "bfloat16", "f16", "float16", "f32", "float32"}));
  cmd->add_option("--threads", o->threads, "Worker threads (default: all cores)");
  o->quant.add_to(cmd);
  cmd->callback([o] {
    ConvertOptions opts;
    if (!o->dtype.empty()) opts.dtype = parse_float_dtype(o->dtype);
    opts.quant = o->quant.spec();
    opts.threads = o->threads;
    opts.on_tensor = count_progress_printer("convert: tensors written");
    const auto t0 = std::chrono::steady_clock::now();
    const ConvertResult r = convert_model(find_model(o->src), o->dst, opts);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "converted %d tensors (%d quantized%s) to %s in %d shard(s): %.1f MB read, %.1f MB written, %.2f s\n",
                 r.tensors_in, r.quantized, opts.quant ? (", " + opts.quant->to_string()).c_str() : "",
                 r.dst.c_str(), r.shards, double(r.bytes_read) / 1e6, double(r.bytes_written) / 1e6, s);
  });
}

}  // namespace mlxcpp::cli
