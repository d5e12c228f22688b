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
  const auto [queued, active] = gauges_ ? gauges_() : std::pair<size_t, size_t>{0, 0};
  out += "# HELP mlxcpp_queue_depth Requests waiting for a generation slot.\n# TYPE mlxcpp_queue_depth gauge\n";
  out += fmt::format("mlxcpp_queue_depth {}\n", queued);
  out += "# HELP mlxcpp_active_streams Requests being generated.\n# TYPE mlxcpp_active_streams gauge\n";
  out += fmt::format("mlxcpp_active_streams {}\n", active);
  return out;
}

}  // namespace mlxcpp
