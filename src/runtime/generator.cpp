#include "runtime/generator.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>

#include "tokenizer/stream_decoder.h"
#include "util/error.h"

namespace mlxcpp {

uint64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return uint64_t(u.ru_maxrss) * 1024;
}

std::vector<int32_t> eos_token_ids(const ModelConfig& config, const Tokenizer& tokenizer) {
  std::vector<int32_t> ids;
  for (int64_t id : config.eos_token_ids) ids.push_back(int32_t(id));
  if (ids.empty() && tokenizer.eos_id()) ids.push_back(*tokenizer.eos_id());
  return ids;
}

namespace {

// Length of the longest suffix of `text` that is a proper prefix of some stop string:
// that much output must be held back until we know whether a stop string follows.
size_t stop_prefix_overlap(const std::string& text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const auto& s : stops)
    for (size_t k = std::min(s.size() - 1, text.size()); k > hold; --k)
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  return hold;
}

}  // namespace

GenerationResult generate(DecoderLM& model, const Tokenizer& tok, const GenerationRequest& req,
                          const std::function<void(const std::string&)>& on_text) {
  using clock = std::chrono::steady_clock;
  const ModelConfig& cfg = model.config();
  if (req.prompt.empty()) fail("the prompt is empty (no tokens)");
  if (req.max_tokens < 0) fail("max_tokens must be >= 0, got {}", req.max_tokens);
  const int64_t context = cfg.context_length();
  if (int64_t(req.prompt.size()) >= context)
    fail("the prompt has {} tokens but the model's context is {} tokens", req.prompt.size(), context);
  for (const auto& s : req.stop)
    if (s.empty()) fail("stop strings must not be empty");

  GenerationResult res;
  res.prompt_tokens = int64_t(req.prompt.size());
  const int64_t capacity = std::min<int64_t>(context, int64_t(req.prompt.size()) + req.max_tokens);
  KVCache cache = model.new_cache(capacity);
  Sampler sampler(req.sampling);
  const std::vector<int32_t> eos = eos_token_ids(cfg, tok);
  std::vector<int32_t> history = req.prompt;
  std::vector<float> logits;

  const auto t0 = clock::now();
  for (size_t i = 0; i < req.prompt.size(); i += size_t(req.prefill_chunk)) {
    const size_t n = std::min(size_t(req.prefill_chunk), req.prompt.size() - i);
    model.forward(std::span<const int32_t>(req.prompt).subspan(i, n), cache, logits);
  }
  auto t_first = clock::now();

  StreamDecoder stream(tok, /*skip_special_tokens=*/true);
  std::string emitted;  // text already passed to on_text
  auto emit = [&](const std::string& s) {
    if (s.empty()) return;
    if (on_text) on_text(s);
    emitted += s;
  };
  res.finish_reason = "length";
  for (int step = 0; step < req.max_tokens; ++step) {
    sampler.process_logits(logits, history);
    const int32_t next = sampler.sample(logits);
    if (step == 0) t_first = clock::now();
    if (std::find(eos.begin(), eos.end(), next) != eos.end()) {
      res.finish_reason = "stop";
      ++res.generation_tokens;  // mlx-lm counts the EOS token
      break;
    }
    res.ids.push_back(next);
    history.push_back(next);
    ++res.generation_tokens;
    stream.add(next);
    std::string text = stream.text();
    bool stopped = false;
    for (const auto& s : req.stop)
      if (const auto at = text.find(s); at != std::string::npos) {
        text.resize(at);
        stopped = true;
      }
    res.text = text;
    if (stopped) {
      res.finish_reason = "stop";
      break;
    }
    // Emit what is certain: what the stream decoder released, minus anything that could
    // be the start of a stop string.
    const size_t certain = stream.emitted();
    const size_t hold = stop_prefix_overlap(text.substr(0, certain), req.stop);
    if (certain - hold > emitted.size()) emit(text.substr(emitted.size(), certain - hold - emitted.size()));
    if (cache.length >= capacity) break;  // context end: finish_reason stays "length"
    model.forward(std::span<const int32_t>(&next, 1), cache, logits);
  }
  if (res.text.size() > emitted.size()) emit(res.text.substr(emitted.size()));
  const auto t_end = clock::now();
  const double prompt_s = std::chrono::duration<double>(t_first - t0).count();
  const double gen_s = std::chrono::duration<double>(t_end - t_first).count();
  res.prompt_tps = prompt_s > 0 ? double(res.prompt_tokens) / prompt_s : 0;
  res.generation_tps = gen_s > 0 ? double(res.generation_tokens) / gen_s : 0;
  res.peak_memory_bytes = peak_rss_bytes();
  return res;
}

}  // namespace mlxcpp
