// Hands a request's progress from the scheduler thread to the HTTP thread that answers it:
// text pieces, then exactly one terminal event (done with the result, or an error).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "runtime/generator.h"

namespace mlxcpp {

struct StreamEvent {
  enum class Kind { Text, Done, Error } kind = Kind::Text;
  std::string text;  // Text: the piece; Error: the message
  GenerationResult result;
};

class EventChannel {
 public:
  void push(StreamEvent e) {
    {
      std::lock_guard lock(mu_);
      events_.push_back(std::move(e));
    }
    cv_.notify_one();
  }
  // The next event, or nullopt when none came before the deadline.
  std::optional<StreamEvent> pop(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_until(lock, deadline, [&] { return !events_.empty(); })) return std::nullopt;
    StreamEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StreamEvent> events_;
};

}  // namespace mlxcpp
