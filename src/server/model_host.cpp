#include "server/model_host.h"

#include <algorithm>

#include "util/error.h"

namespace mlxcpp {

ModelHost::ModelHost(std::string name, const std::filesystem::path& dir, const HostOptions& options)
    : name_(std::move(name)), dir_(dir), options_(options) {
  tok_ = Tokenizer::load(dir);
  model_ = Engine::load(dir, options.engine);
  constraints_ = std::make_unique<ConstraintCompiler>(model_->config(), tok_);
  if (options.prefix_cache) prefix_cache_ = std::make_unique<PrefixCache>(model_->kv_pool());
  if (const std::string* src = tok_->chat_template()) {
    template_source_ = *src;
    template_.emplace(ChatTemplate::for_tokenizer(*tok_, dir.string()));
  }
  scheduler_ = std::thread([this] { run(); });
}

ModelHost::~ModelHost() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  scheduler_.join();
  prefix_cache_.reset();  // its blocks go back before the engine's pool goes
}

void ModelHost::submit(Job job) {
  std::vector<Job> one;
  one.push_back(std::move(job));
  submit(std::move(one));
}

void ModelHost::submit(std::vector<Job> jobs) {
  {
    std::lock_guard lock(mu_);
    for (Job& job : jobs) queue_.push_back(std::move(job));
  }
  wake_.notify_all();
}

size_t ModelHost::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t ModelHost::active() const { return active_count_; }

std::optional<CachedPrefix> ModelHost::take_cached_prefix(const std::vector<int32_t>& prompt) {
  if (!prefix_cache_) return std::nullopt;
  CachedPrefix c{model_->new_sequence(), {}};
  const int64_t n = prefix_cache_->match(prompt, c.kv);
  if (n == 0) return std::nullopt;
  c.tokens.assign(prompt.begin(), prompt.begin() + n);
  return c;
}

HostStats ModelHost::stats() const {
  std::lock_guard lock(mu_);
  HostStats s = stats_;
  s.waiting = queue_.size();
  s.running = active_count_;
  s.kv_blocks_free = model_->kv_pool().free_blocks();
  s.kv_blocks_used = model_->kv_pool().blocks() - s.kv_blocks_free;
  return s;
}

void ModelHost::run() {
  std::list<Active> active;  // in admission order
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || !active.empty(); });
      if (stopping_) break;
      // Admit queued jobs while there is room (FIFO).
      while (!queue_.empty() && active.size() < size_t(std::max(1, options_.max_active))) {
        active.push_back(Active{std::move(queue_.front()), nullptr});
        queue_.pop_front();
      }
    }
    // Streams are created here, on the scheduler thread, where the prompt cache lives.
    for (auto& a : active)
      if (!a.stream) {
        try {
          a.job.request.cancel = a.job.cancel.get();
          a.stream = std::make_unique<GenerationStream>(*model_, *tok_, a.job.request, a.job.on_text,
                                                        take_cached_prefix(a.job.request.prompt));
          std::lock_guard lock(mu_);
          stats_.prompt_tokens += uint64_t(a.stream->result().prompt_tokens);
          stats_.reused_prompt_tokens += uint64_t(a.stream->result().cached_prompt_tokens);
        } catch (const std::exception& e) {
          if (a.job.on_error) a.job.on_error(e.what());
          a.job.cancel->store(true);  // marks it for removal below
        }
      }
    active_count_ = active.size();
    step(active);
    active_count_ = active.size();
  }
  for (auto& a : active)
    if (a.job.on_error) a.job.on_error("the server is shutting down");
  std::lock_guard lock(mu_);
  for (auto& j : queue_)
    if (j.on_error) j.on_error("the server is shutting down");
}

void ModelHost::step(std::list<Active>& active) {
  // Plan: every decoding stream's token, then prompt chunks in admission order while the
  // budget lasts. A stream whose plan() says it is finished (cancelled) leaves now.
  // While streams are decoding, a prompt chunk waits for free blocks rather than take
  // them from a running stream: the running ones finish and free theirs.
  std::vector<std::pair<Active*, EngineStep>> planned;
  int64_t budget = std::max<int64_t>(1, options_.step_tokens);
  int64_t free_blocks = model_->kv_pool().free_blocks();
  size_t decodes = 0;
  for (bool decoding : {true, false})
    for (auto& a : active) {
      if (!a.stream || a.stream->finished() || a.stream->decoding() != decoding) continue;
      if (!decoding && budget <= 0) break;
      EngineStep s;
      if (!a.stream->plan(s, decoding ? 1 : budget)) continue;  // finished (cancelled): leaves below
      const int64_t need = kv_blocks_for(s.kv->length() + int64_t(s.tokens.size())) - int64_t(s.kv->blocks().size());
      if (need > free_blocks && prefix_cache_) free_blocks += prefix_cache_->evict(need - free_blocks);
      if (!decoding && decodes > 0 && need > free_blocks) continue;
      free_blocks -= std::max<int64_t>(0, need);
      decodes += decoding ? 1 : 0;
      budget -= int64_t(s.tokens.size());
      planned.emplace_back(&a, s);
    }
  if (!planned.empty() && forward_with_room(active, planned)) {
    {
      std::lock_guard lock(mu_);
      ++stats_.steps;
      stats_.step_sequences += planned.size();
      for (const auto& [a, s] : planned) stats_.step_tokens += s.tokens.size();
    }
    for (auto& [a, s] : planned) {
      try {
        const bool was_prefill = !a->stream->decoding();
        a->stream->complete(s);
        // A prompt just computed is shared at once with requests that start the same way.
        if (prefix_cache_ && was_prefill && a->stream->decoding())
          prefix_cache_->insert(a->job.request.prompt, a->stream->cache());
      } catch (const std::exception& e) {
        if (a->job.on_error) a->job.on_error(e.what());
        a->job.cancel->store(true);
        a->stream.reset();
      }
    }
  }
  for (auto it = active.begin(); it != active.end();) {
    const bool gone = !it->stream;  // failed to start, or failed
    const bool done = it->stream && it->stream->finished();
    if (done) {
      // The blocks leave the stream before the client hears of the end: kept in the prefix
      // cache, or (cancelled) back in the pool at once.
      {
        const CachedPrefix c = it->stream->take_cache();
        if (prefix_cache_ && it->stream->result().finish_reason != "cancelled") prefix_cache_->insert(c.tokens, c.kv);
      }
      if (it->job.on_done) it->job.on_done(it->stream->result());
    }
    it = gone || done ? active.erase(it) : std::next(it);
  }
}

bool ModelHost::forward_with_room(std::list<Active>& active, std::vector<std::pair<Active*, EngineStep>>& planned) {
  for (;;) {
    std::vector<EngineStep> steps;
    steps.reserve(planned.size());
    for (const auto& p : planned) steps.push_back(p.second);
    try {
      model_->forward(steps);
      for (size_t i = 0; i < planned.size(); ++i) planned[i].second = steps[i];
      return true;
    } catch (const KvPoolFull&) {
    } catch (const std::exception& e) {
      // An error that is no one stream's (a device failure): every stream in the step fails.
      for (auto& [a, s] : planned) {
        if (a->job.on_error) a->job.on_error(e.what());
        a->stream.reset();
      }
      planned.clear();
      return false;
    }
    // Room, in order: cached prefixes nothing else holds; the step's prompt chunks (newest first: they wait);
    // the newest running stream of the step (preempted).
    if (prefix_cache_ && prefix_cache_->evict(kv_blocks_for(options_.step_tokens)) > 0) continue;
    if (planned.size() > 1) {
      auto last_prefill = std::find_if(planned.rbegin(), planned.rend(), [](const auto& p) { return !p.first->stream->decoding(); });
      if (last_prefill != planned.rend()) {
        planned.erase(std::next(last_prefill).base());
        continue;
      }
    }
    // Only decode steps (or one prompt chunk) left: preempt the newest stream holding KV
    // blocks, in the step or waiting; the step keeps what remains.
    Active* victim = nullptr;
    for (auto it = active.rbegin(); it != active.rend() && !victim; ++it)
      if (it->stream && !it->stream->finished() && it->stream->cache().blocks().size() > 0 && &*it != planned.front().first)
        victim = &*it;
    if (!victim) {
      // One stream alone does not fit the pool.
      Active* a = planned.front().first;
      if (a->job.on_error)
        a->job.on_error("the KV cache pool (" + std::to_string(int64_t(model_->kv_pool().blocks()) * kKvBlock) +
                        " positions) cannot hold this request: raise --kv-pool-tokens or shorten the prompt");
      a->stream.reset();
      planned.clear();
      return false;
    }
    victim->stream->preempt();
    {
      std::lock_guard lock(mu_);
      ++stats_.preemptions;
    }
    std::erase_if(planned, [&](const auto& p) { return p.first == victim; });
    if (planned.empty()) return false;
  }
}

}  // namespace mlxcpp
