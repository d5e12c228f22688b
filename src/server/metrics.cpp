#include "server/metrics.h"

#include <fmt/format.h>

namespace mlxcpp {

void Metrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{endpoint, status}];
}

void Metrics::add_tokens(int64_t prompt, int64_t generated) {
  std::lock_guard lock(mu_);
  prompt_tokens_ += prompt;
  generated_tokens_ += generated;
}

void Metrics::count_cancelled() {
  std::lock_guard lock(mu_);
  ++cancelled_;
}

void Metrics::observe_latency(double s) {
  std::lock_guard lock(mu_);
  latency_sum_ += s;
  ++latency_count_;
}

void Metrics::observe_first_token(double s) {
  std::lock_guard lock(mu_);
  ttft_sum_ += s;
  ++ttft_count_;
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out += "# HELP mlxcpp_requests_total HTTP requests by endpoint and status.\n# TYPE mlxcpp_requests_total counter\n";
  for (const auto& [key, n] : requests_)
    out += fmt::format("mlxcpp_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
  out += "# HELP mlxcpp_prompt_tokens_total Prompt tokens processed.\n# TYPE mlxcpp_prompt_tokens_total counter\n";
  out += fmt::format("mlxcpp_prompt_tokens_total {}\n", prompt_tokens_);
  out += "# HELP mlxcpp_generated_tokens_total Tokens generated.\n# TYPE mlxcpp_generated_tokens_total counter\n";
  out += fmt::format("mlxcpp_generated_tokens_total {}\n", generated_tokens_);
  out += "# HELP mlxcpp_cancelled_requests_total Streams whose client went away before the end.\n"
         "# TYPE mlxcpp_cancelled_requests_total counter\n";
  out += fmt::format("mlxcpp_cancelled_requests_total {}\n", cancelled_);
  out += "# HELP mlxcpp_request_duration_seconds Time from request to last byte.\n# TYPE mlxcpp_request_duration_seconds summary\n";
  out += fmt::format("mlxcpp_request_duration_seconds_sum {}\nmlxcpp_request_duration_seconds_count {}\n", latency_sum_, latency_count_);
  out += "# HELP mlxcpp_time_to_first_token_seconds Time from request to the first generated text.\n"
         "# TYPE mlxcpp_time_to_first_token_seconds summary\n";
  out += fmt::format("mlxcpp_time_to_first_token_seconds_sum {}\nmlxcpp_time_to_first_token_seconds_count {}\n", ttft_sum_, ttft_count_);
  const HostStats h = gauges_ ? gauges_() : HostStats{};
  const auto gauge = [&](const char* name, const char* help, auto value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, value);
  };
  const auto counter = [&](const char* name, const char* help, auto value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
  };
  gauge("mlxcpp_queue_depth", "Requests waiting for a generation slot.", h.waiting);
  gauge("mlxcpp_active_streams", "Requests being generated (running sequences).", h.running);
  gauge("mlxcpp_kv_blocks_used", "KV cache pool blocks in use (sequences and cached prefixes).", h.kv_blocks_used);
  gauge("mlxcpp_kv_blocks_free", "KV cache pool blocks free.", h.kv_blocks_free);
  counter("mlxcpp_batch_steps_total", "Batched forward passes run by the schedulers.", h.steps);
  counter("mlxcpp_batch_sequences_total", "Sequences over all batched steps (divided by the steps: the mean batch size).",
          h.step_sequences);
  counter("mlxcpp_batch_tokens_total", "Tokens over all batched steps.", h.step_tokens);
  counter("mlxcpp_preemptions_total", "Running streams that gave up their KV cache for room (recomputed later).",
          h.preemptions);
  counter("mlxcpp_prefix_cache_prompt_tokens_total", "Prompt tokens of admitted requests.", h.prompt_tokens);
  counter("mlxcpp_prefix_cache_reused_tokens_total", "Of those, tokens whose KV came from the prefix cache.",
          h.reused_prompt_tokens);
  return out;
}

}  // namespace mlxcpp
