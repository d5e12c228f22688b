// The generation loop: chunked prefill, sampling, stop conditions (EOS set, stop strings
// matched on text, max_tokens, context end, cancellation) and incremental text output
// that never emits a partial UTF-8 character or the beginning of a stop string.
//
// GenerationStream advances one step at a time (one prefill chunk or one token): step()
// runs it alone, or a scheduler takes each stream's next step (plan), runs many in one
// batched forward pass and hands each its result (complete); generate() runs one to the
// end. A stream can give up its KV cache between steps (preempt) and recomputes it later.
// A finished stream hands back its KV cache with the tokens it holds, and a later request
// whose prompt shares that prefix skips recomputing it (the prompt cache).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <climits>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "grammar/token_constraint.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "tokenizer/stream_decoder.h"
#include "tokenizer/tokenizer.h"

namespace mlxcpp {

struct GenerationRequest {
  std::vector<int32_t> prompt;
  int max_tokens = 256;
  SamplingParams sampling;
  std::vector<std::string> stop;
  int prefill_chunk = 512;
  int top_logprobs = -1;                      // -1: no logprobs; 0: the token's own; N: also the N best
  bool skip_special_tokens = true;            // false keeps markers such as [TOOL_CALLS] in the text
  const std::atomic<bool>* cancel = nullptr;  // set by another thread to stop early
  // Constrained decoding (runtime/constraints.h): only tokens that keep the output a
  // prefix of the grammar's sentences; the stream ends when the grammar is complete.
  std::shared_ptr<grammar::TokenConstraint> constraint;
};

struct TokenLogprob {
  int32_t id = 0;
  std::string token;  // the token's text (bytes may be a partial UTF-8 character)
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // best first
};

struct GenerationResult {
  std::string text;
  std::vector<int32_t> ids;
  std::string finish_reason;  // "stop", "length" or "cancelled"
  std::string stop_string;    // the stop string that ended the text, if one did
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // of prompt_tokens, taken from a reused KV cache
  int64_t generation_tokens = 0;
  double prompt_tps = 0, generation_tps = 0;
  uint64_t peak_memory_bytes = 0;  // peak resident set size of the process
  std::vector<TokenLogprob> logprobs;
};

// A KV cache and the tokens whose keys and values it holds.
struct CachedPrefix {
  KvSequence kv;
  std::vector<int32_t> tokens;
};

// The EOS ids mlx-lm uses: config (after generation_config), else the tokenizer's.
std::vector<int32_t> eos_token_ids(const ModelConfig& config, const Tokenizer& tokenizer);

class GenerationStream {
 public:
  // Validates the request (errors name the field). `reuse`, when given, is a cache from an
  // earlier request; its common prefix with this prompt is kept, the rest recomputed.
  GenerationStream(Engine& model, const Tokenizer& tokenizer, GenerationRequest request,
                   std::function<void(const std::string&)> on_text = {}, std::optional<CachedPrefix> reuse = {});

  // One prefill chunk or one generated token. Returns false once finished.
  bool step();
  bool finished() const { return state_ == State::Done; }
  const GenerationResult& result() const { return result_; }
  // The KV cache and the tokens in it, for a later request (leaves this stream without one).
  CachedPrefix take_cache();

  // Batched use. plan() fills `out` with the stream's next step (at most `max_tokens`
  // tokens of a prompt or recompute chunk; a decode step is always 1) and returns true, or
  // returns false once the stream is finished (cancelled). The step's spans and draw stay
  // valid until complete(). After the engine ran it, complete(out) takes its result; if the
  // forward pass failed (KvPoolFull), the stream is unchanged and plans the same step again.
  bool plan(EngineStep& out, int64_t max_tokens = INT64_MAX);
  void complete(const EngineStep& done);
  // Whether the next step is a single decoded token (else a prompt or recompute chunk).
  bool decoding() const { return state_ == State::Decode; }
  // Releases the KV cache; the stream recomputes it (prompt and the tokens generated so
  // far, without emitting anything twice) before it goes on.
  void preempt();
  const KvSequence& cache() const { return cache_; }

 private:
  // Prefill: the prompt (or, after preempt, everything the cache held) goes through the
  // model in chunks up to prefill_target_; Decode: the drawn token next_ is fed back.
  enum class State { Prefill, Decode, Done };
  // Takes the freshly drawn next_: logprobs, EOS, stop strings, emitted text, limits.
  void accept_token();
  void finish(const std::string& reason);
  void emit(const std::string& text);

  Engine& model_;
  const Tokenizer& tok_;
  GenerationRequest req_;
  std::function<void(const std::string&)> on_text_;
  KvSequence cache_;
  Sampler sampler_;
  StreamDecoder stream_;
  std::vector<int32_t> eos_, history_;
  // Without logprobs the draw runs where the logits are (on a GPU: nothing but the token
  // comes back); with them the logits come to logits_ and the draw runs here.
  std::vector<float> logits_;
  TokenDraw draw_;
  bool draw_planned_ = false;
  int32_t next_ = -1;
  int32_t constraint_state_ = 0;
  std::vector<float> logprobs_scratch_;
  std::string emitted_;
  int64_t capacity_ = 0;
  size_t prefill_pos_ = 0, prefill_target_ = 0;
  bool recomputing_ = false;  // the prefill is a recompute after preempt (no new draw)
  State state_ = State::Prefill;
  GenerationResult result_;
  std::chrono::steady_clock::time_point t0_, t_first_;
};

GenerationResult generate(Engine& model, const Tokenizer& tokenizer, const GenerationRequest& request,
                          const std::function<void(const std::string&)>& on_text = {});

uint64_t peak_rss_bytes();

}  // namespace mlxcpp
