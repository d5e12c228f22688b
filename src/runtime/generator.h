// The generation loop: chunked prefill, sampling, stop conditions (EOS set, stop strings
// matched on text, max_tokens, context end) and incremental text output that never
// emits a partial UTF-8 character or the beginning of a stop string.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/decoder_lm.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace mlxcpp {

struct GenerationRequest {
  std::vector<int32_t> prompt;
  int max_tokens = 256;
  SamplingParams sampling;
  std::vector<std::string> stop;
  int prefill_chunk = 512;
};

struct GenerationResult {
  std::string text;
  std::vector<int32_t> ids;
  std::string finish_reason;  // "stop" or "length"
  int64_t prompt_tokens = 0;
  int64_t generation_tokens = 0;
  double prompt_tps = 0, generation_tps = 0;
  uint64_t peak_memory_bytes = 0;  // peak resident set size of the process
};

// The EOS ids mlx-lm uses: config (after generation_config), else the tokenizer's.
std::vector<int32_t> eos_token_ids(const ModelConfig& config, const Tokenizer& tokenizer);

GenerationResult generate(DecoderLM& model, const Tokenizer& tokenizer, const GenerationRequest& request,
                          const std::function<void(const std::string&)>& on_text = {});

uint64_t peak_rss_bytes();

}  // namespace mlxcpp
