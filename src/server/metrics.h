// Prometheus text-format metrics of the HTTP server: requests by endpoint and status,
// prompt and generated tokens, request latency and time to first token (summaries as
// sum/count), and the scheduler's figures for the loaded models (HostStats).
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "server/model_host.h"

namespace mlxcpp {

class Metrics {
 public:
  void count_request(const std::string& endpoint, int status);
  void add_tokens(int64_t prompt, int64_t generated);
  void count_cancelled();
  void observe_latency(double seconds);
  void observe_first_token(double seconds);
  // Gauges are read when the metrics are rendered.
  void set_gauges(std::function<HostStats()> scheduler) { gauges_ = std::move(scheduler); }
  std::string render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, int64_t> requests_;
  int64_t prompt_tokens_ = 0, generated_tokens_ = 0, cancelled_ = 0;
  double latency_sum_ = 0, ttft_sum_ = 0;
  int64_t latency_count_ = 0, ttft_count_ = 0;
  std::function<HostStats()> gauges_;
};

}  // namespace mlxcpp
