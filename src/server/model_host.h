// One loaded model serving many requests: a scheduler thread advances every active
// GenerationStream one step in turn (round-robin), so concurrent requests all make progress
// and none starves; requests beyond max_active wait in a FIFO queue. Finished streams leave
// their KV caches in a small prompt cache, so the next turn of a conversation recomputes
// only what is new.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "runtime/engine.h"
#include "runtime/generator.h"
#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace mlxcpp {

struct HostOptions {
  EngineOptions engine = [] {
    EngineOptions o;
    o.precision = Precision::Fast;
    return o;
  }();
  int max_active = 8;                      // streams advanced together
  size_t prompt_cache_entries = 4;         // KV caches kept for reuse
};

// One request to a host. Callbacks run on the scheduler thread; keep them short.
struct Job {
  GenerationRequest request;
  std::function<void(const std::string&)> on_text;
  std::function<void(const GenerationResult&)> on_done;
  std::function<void(const std::string& error)> on_error;
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
};

class ModelHost {
 public:
  ModelHost(std::string name, const std::filesystem::path& dir, const HostOptions& options);
  ~ModelHost();
  ModelHost(const ModelHost&) = delete;
  ModelHost& operator=(const ModelHost&) = delete;

  const std::string& name() const { return name_; }
  const std::filesystem::path& dir() const { return dir_; }
  const Tokenizer& tokenizer() const { return *tok_; }
  const ModelConfig& config() const { return model_->config(); }
  // nullptr when the model has no chat template.
  const ChatTemplate* chat_template() const { return template_ ? &*template_ : nullptr; }
  const std::string& chat_template_source() const { return template_source_; }

  void submit(Job job);
  size_t queued() const;
  size_t active() const;

 private:
  struct Active {
    Job job;
    std::unique_ptr<GenerationStream> stream;
  };
  void run();
  std::optional<CachedPrefix> take_cached_prefix(const std::vector<int32_t>& prompt);
  void keep_cache(CachedPrefix prefix);

  std::string name_;
  std::filesystem::path dir_;
  HostOptions options_;
  std::shared_ptr<const Tokenizer> tok_;
  std::unique_ptr<Engine> model_;
  std::optional<ChatTemplate> template_;
  std::string template_source_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  std::atomic<size_t> active_count_{0};
  std::list<CachedPrefix> prompt_cache_;  // most recent first; touched only by the scheduler
  bool stopping_ = false;
  std::thread scheduler_;
};

}  // namespace mlxcpp
