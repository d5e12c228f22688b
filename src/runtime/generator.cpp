#include "runtime/generator.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>

#include "backend/cpu/draw.h"
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

using Clock = std::chrono::steady_clock;

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

const GenerationRequest& validated(const GenerationRequest& req, const ModelConfig& cfg) {
  if (req.prompt.empty()) fail("the prompt is empty (no tokens)");
  if (req.max_tokens < 0) fail("max_tokens must be >= 0, got {}", req.max_tokens);
  if (req.prefill_chunk <= 0) fail("prefill_chunk must be positive, got {}", req.prefill_chunk);
  if (req.top_logprobs > 20) fail("top_logprobs must be at most 20, got {}", req.top_logprobs);
  const int64_t context = cfg.context_length();
  if (int64_t(req.prompt.size()) >= context)
    fail("the prompt has {} tokens but the model's context is {} tokens", req.prompt.size(), context);
  for (const auto& s : req.stop)
    if (s.empty()) fail("stop strings must not be empty");
  return req;
}

}  // namespace

GenerationStream::GenerationStream(Engine& model, const Tokenizer& tok, GenerationRequest request,
                                   std::function<void(const std::string&)> on_text, std::optional<CachedPrefix> reuse)
    : model_(model),
      tok_(tok),
      req_(validated(request, model.config())),
      on_text_(std::move(on_text)),
      cache_(reuse ? std::move(reuse->kv) : model.new_sequence()),
      sampler_(req_.sampling),
      stream_(tok, request.skip_special_tokens),
      eos_(eos_token_ids(model.config(), tok)),
      history_(req_.prompt) {
  capacity_ = std::min<int64_t>(model.config().context_length(), int64_t(req_.prompt.size()) + req_.max_tokens);
  // Reuse: keep the common prefix, but always recompute at least the last prompt token
  // (its logits start the generation).
  size_t keep = 0;
  if (reuse) {
    const size_t limit = std::min({reuse->tokens.size(), size_t(cache_.length()), req_.prompt.size() - 1});
    while (keep < limit && reuse->tokens[keep] == req_.prompt[keep]) ++keep;
  }
  cache_.truncate(int64_t(keep));
  prefill_pos_ = keep;
  prefill_target_ = req_.prompt.size();
  result_.prompt_tokens = int64_t(req_.prompt.size());
  result_.cached_prompt_tokens = int64_t(keep);
  result_.finish_reason = "length";
  if (req_.constraint) {
    if (req_.constraint->vocabulary().vocab() < model.config().vocab_size)
      fail("the constraint was compiled for a vocabulary of {} tokens, the model has {}", req_.constraint->vocabulary().vocab(),
           model.config().vocab_size);
    constraint_state_ = req_.constraint->start();
  }
  t0_ = t_first_ = Clock::now();
}

bool GenerationStream::step() {
  EngineStep s;
  if (!plan(s)) return false;
  model_.forward(std::span<EngineStep>(&s, 1));
  complete(s);
  return state_ != State::Done;
}

bool GenerationStream::plan(EngineStep& out, int64_t max_tokens) {
  if (state_ == State::Done) return false;
  if (req_.cancel && req_.cancel->load(std::memory_order_relaxed)) {
    finish("cancelled");
    return false;
  }
  out = EngineStep{};
  out.kv = &cache_;
  bool draws = true;
  if (state_ == State::Prefill) {
    const size_t n = std::min<size_t>(size_t(std::max<int64_t>(1, std::min<int64_t>(max_tokens, req_.prefill_chunk))),
                                      prefill_target_ - prefill_pos_);
    out.tokens = std::span<const int32_t>(history_).subspan(prefill_pos_, n);
    // Only the prompt's last chunk draws; a recompute ends where next_ is already known.
    draws = !recomputing_ && prefill_pos_ + n == prefill_target_;
  } else {
    out.tokens = std::span<const int32_t>(&next_, 1);
  }
  if (!draws) return true;  // a chunk whose logits nobody reads
  // Planned once per token: a step planned again (its batch did not fit) draws the same.
  if (!draw_planned_) {
    draw_ = sampler_.next_draw(history_, model_.config().vocab_size);
    if (req_.constraint) draw_.allowed = req_.constraint->mask(constraint_state_);
  }
  draw_planned_ = true;
  if (req_.top_logprobs < 0) {
    out.output = StepOutput::Token;
    out.draw = &draw_;
  } else {
    out.output = StepOutput::Logits;
    out.logits = &logits_;
  }
  return true;
}

void GenerationStream::complete(const EngineStep& done) {
  if (done.output != StepOutput::None) draw_planned_ = false;
  if (done.output == StepOutput::Token) next_ = done.token;
  else if (done.output == StepOutput::Logits) next_ = cpu::draw_token(logits_, draw_, &logprobs_scratch_);
  if (state_ == State::Prefill) {
    prefill_pos_ += done.tokens.size();
    if (prefill_pos_ < prefill_target_) return;
    state_ = State::Decode;
    if (recomputing_) {  // back where the preemption left it: next_ is still to be fed
      recomputing_ = false;
      return;
    }
    t_first_ = Clock::now();
    if (req_.max_tokens == 0) return finish("length");
  }
  accept_token();
}

void GenerationStream::preempt() {
  if (state_ == State::Done) return;
  cache_.clear();
  prefill_pos_ = 0;
  if (state_ == State::Prefill && !recomputing_) {  // the prompt again, from the start
    result_.cached_prompt_tokens = 0;
    return;
  }
  // In Decode, history_'s last token is next_: drawn and accepted, not yet fed.
  if (state_ == State::Decode) prefill_target_ = history_.size() - 1;
  recomputing_ = true;
  state_ = State::Prefill;
}

void GenerationStream::accept_token() {
  const bool want_logprobs = req_.top_logprobs >= 0;
  const int32_t next = next_;
  if (want_logprobs) {
    TokenLogprob lp;
    lp.id = next;
    lp.token = tok_.decode(std::span<const int32_t>(&next, 1), false);
    lp.logprob = logprobs_scratch_[size_t(next)];
    if (req_.top_logprobs > 0) {
      std::vector<int32_t> order(logprobs_scratch_.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = int32_t(i);
      const size_t n = std::min(order.size(), size_t(req_.top_logprobs));
      std::partial_sort(order.begin(), order.begin() + std::ptrdiff_t(n), order.end(),
                        [&](int32_t a, int32_t b) { return logprobs_scratch_[size_t(a)] > logprobs_scratch_[size_t(b)]; });
      for (size_t i = 0; i < n; ++i) lp.top.emplace_back(order[i], logprobs_scratch_[size_t(order[i])]);
    }
    result_.logprobs.push_back(std::move(lp));
  }
  ++result_.generation_tokens;  // mlx-lm counts the EOS token too
  if (std::find(eos_.begin(), eos_.end(), next) != eos_.end()) return finish("stop");
  bool complete = false;
  if (req_.constraint) {
    constraint_state_ = req_.constraint->advance(constraint_state_, next);
    // (The mask allowed only tokens that continue; a dead state would be a bug.)
    complete = constraint_state_ == grammar::Automaton::kDead || req_.constraint->finished(constraint_state_);
  }
  result_.ids.push_back(next);
  history_.push_back(next);
  stream_.add(next);
  std::string text = stream_.text();
  // The stop string that occurs first ends the text (and is reported).
  size_t stop_at = std::string::npos;
  for (const auto& s : req_.stop)
    if (const auto at = text.find(s); at < stop_at) {
      stop_at = at;
      result_.stop_string = s;
    }
  const bool stopped = stop_at != std::string::npos;
  if (stopped) text.resize(stop_at);
  result_.text = text;
  if (stopped || complete) return finish("stop");
  // Emit what is certain: what the stream decoder released, minus anything that could be
  // the start of a stop string.
  const size_t certain = stream_.emitted();
  const size_t hold = stop_prefix_overlap(text.substr(0, certain), req_.stop);
  if (certain - hold > emitted_.size()) emit(text.substr(emitted_.size(), certain - hold - emitted_.size()));
  // The token would be fed at position cache_.length(): stop when that reaches the limit.
  if (result_.generation_tokens >= req_.max_tokens || cache_.length() >= capacity_) return finish("length");
}

void GenerationStream::emit(const std::string& text) {
  if (text.empty()) return;
  if (on_text_) on_text_(text);
  emitted_ += text;
}

void GenerationStream::finish(const std::string& reason) {
  if (reason != "cancelled" && result_.text.size() > emitted_.size()) emit(result_.text.substr(emitted_.size()));
  result_.finish_reason = reason;
  state_ = State::Done;
  const auto t_end = Clock::now();
  const double prompt_s = std::chrono::duration<double>(t_first_ - t0_).count();
  const double gen_s = std::chrono::duration<double>(t_end - t_first_).count();
  const int64_t computed = result_.prompt_tokens - result_.cached_prompt_tokens;
  result_.prompt_tps = prompt_s > 0 ? double(computed) / prompt_s : 0;
  result_.generation_tps = gen_s > 0 ? double(result_.generation_tokens) / gen_s : 0;
  result_.peak_memory_bytes = peak_rss_bytes();
}

CachedPrefix GenerationStream::take_cache() {
  // The cache holds the prompt and every generated token that was fed back (not the last).
  std::vector<int32_t> tokens = history_;
  tokens.resize(std::min(tokens.size(), size_t(cache_.length())));
  return {std::move(cache_), std::move(tokens)};
}

GenerationResult generate(Engine& model, const Tokenizer& tok, const GenerationRequest& req,
                          const std::function<void(const std::string&)>& on_text) {
  GenerationStream stream(model, tok, req, on_text);
  while (stream.step()) {
  }
  return stream.result();
}

}  // namespace mlxcpp
