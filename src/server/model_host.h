// One loaded model serving many requests with continuous batching: a scheduler thread
// runs steps of one batched forward pass each, holding every running stream's next decode
// token and, in what is left of the step's token budget, chunks of the prompts of streams
// being admitted (oldest first). A decode step's latency is thus bounded by the budget's
// worth of prefill. Requests beyond max_active wait in a FIFO queue. When the KV pool has
// no blocks for a step, the scheduler frees them in this order: cached prefixes, then the
// step's prompt chunks (they wait), then the newest running stream (preempted: it gives up
// its cache and recomputes it later; its client sees only a delay). Prompts, once
// computed, and finished streams leave their KV blocks in the prefix cache
// (runtime/prefix_cache.h), so a request sharing a prefix with any earlier one (the next
// turn of a conversation, the same system prompt) recomputes only what is new.
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
#include <utility>
#include <vector>

#include "runtime/engine.h"
#include "runtime/constraints.h"
#include "runtime/generator.h"
#include "runtime/prefix_cache.h"
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
  int64_t step_tokens = 512;               // tokens per batched step (decode tokens first)
  bool prefix_cache = true;                // KV blocks of earlier requests reused across requests
};

// What the scheduler has done, for /metrics.
struct HostStats {
  size_t running = 0, waiting = 0;
  uint64_t steps = 0, step_sequences = 0, step_tokens = 0;  // batched steps, their sequences and tokens
  uint64_t preemptions = 0;
  uint64_t prompt_tokens = 0, reused_prompt_tokens = 0;  // of admitted requests; taken from cached KV
  int32_t kv_blocks_used = 0, kv_blocks_free = 0;
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
  // Compiles and caches the constraints of requests (response_format, grammar, tools).
  ConstraintCompiler& constraints() { return *constraints_; }

  void submit(Job job);
  // Jobs queued together, so that the scheduler sees them all at its next step.
  void submit(std::vector<Job> jobs);
  size_t queued() const;
  size_t active() const;
  HostStats stats() const;

 private:
  struct Active {
    Job job;
    std::unique_ptr<GenerationStream> stream;
  };
  void run();
  // One batched step over the running streams; finished ones are handed back and removed.
  void step(std::list<Active>& active);
  // Runs the planned steps, making room in the KV pool as the header says; removes from
  // `planned` what could not run. Returns false when nothing ran.
  bool forward_with_room(std::list<Active>& active, std::vector<std::pair<Active*, EngineStep>>& planned);
  std::optional<CachedPrefix> take_cached_prefix(const std::vector<int32_t>& prompt);

  std::string name_;
  std::filesystem::path dir_;
  HostOptions options_;
  std::shared_ptr<const Tokenizer> tok_;
  std::unique_ptr<Engine> model_;
  std::optional<ChatTemplate> template_;
  std::string template_source_;
  std::unique_ptr<ConstraintCompiler> constraints_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  std::atomic<size_t> active_count_{0};
  HostStats stats_;  // guarded by mu_
  std::unique_ptr<PrefixCache> prefix_cache_;  // touched only by the scheduler
  bool stopping_ = false;
  std::thread scheduler_;
};

}  // namespace mlxcpp
