#include "server/model_host.h"

#include "util/error.h"

namespace mlxcpp {

ModelHost::ModelHost(std::string name, const std::filesystem::path& dir, const HostOptions& options)
    : name_(std::move(name)), dir_(dir), options_(options) {
  tok_ = Tokenizer::load(dir);
  model_ = Engine::load(dir, options.engine);
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
}

void ModelHost::submit(Job job) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_all();
}

size_t ModelHost::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

size_t ModelHost::active() const { return active_count_; }

std::optional<CachedPrefix> ModelHost::take_cached_prefix(const std::vector<int32_t>& prompt) {
  auto best = prompt_cache_.end();
  size_t best_len = 0;
  for (auto it = prompt_cache_.begin(); it != prompt_cache_.end(); ++it) {
    size_t n = 0;
    while (n < it->tokens.size() && n < prompt.size() && it->tokens[n] == prompt[n]) ++n;
    if (n > best_len) best = it, best_len = n;
  }
  if (best == prompt_cache_.end()) return std::nullopt;
  CachedPrefix out = std::move(*best);
  prompt_cache_.erase(best);
  return out;
}

void ModelHost::keep_cache(CachedPrefix prefix) {
  if (options_.prompt_cache_entries == 0 || prefix.tokens.empty()) return;
  prompt_cache_.push_front(std::move(prefix));
  while (prompt_cache_.size() > options_.prompt_cache_entries) prompt_cache_.pop_back();
}

void ModelHost::run() {
  std::list<Active> active;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty() || !active.empty(); });
      if (stopping_) break;
      // Admit queued jobs while there is room (FIFO).
      while (!queue_.empty() && active.size() < size_t(std::max(1, options_.max_active))) {
        Active a{std::move(queue_.front()), nullptr};
        queue_.pop_front();
        active.push_back(std::move(a));
      }
    }
    // Streams are created here, on the scheduler thread, where the prompt cache lives.
    for (auto& a : active)
      if (!a.stream) {
        try {
          a.job.request.cancel = a.job.cancel.get();
          a.stream = std::make_unique<GenerationStream>(*model_, *tok_, a.job.request, a.job.on_text,
                                                        take_cached_prefix(a.job.request.prompt));
        } catch (const std::exception& e) {
          if (a.job.on_error) a.job.on_error(e.what());
          a.job.cancel->store(true);  // marks it for removal below
        }
      }
    active_count_ = active.size();
    // One step for each, in turn.
    for (auto it = active.begin(); it != active.end();) {
      bool done = !it->stream;
      if (it->stream) {
        try {
          done = !it->stream->step();
          if (done) {
            if (it->job.on_done) it->job.on_done(it->stream->result());
            keep_cache(it->stream->take_cache());
          }
        } catch (const std::exception& e) {
          if (it->job.on_error) it->job.on_error(e.what());
          done = true;
        }
      }
      it = done ? active.erase(it) : std::next(it);
    }
    active_count_ = active.size();
  }
  for (auto& a : active)
    if (a.job.on_error) a.job.on_error("the server is shutting down");
  std::lock_guard lock(mu_);
  for (auto& j : queue_)
    if (j.on_error) j.on_error("the server is shutting down");
}

}  // namespace mlxcpp
