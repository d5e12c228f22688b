// A persistent pool of worker threads for data-parallel loops. One pool is owned by each
// engine (no global pool); parallel_for blocks until every chunk is done.
//
// A decode step is ~100 short parallel loops (one per matrix product, ~0.1-1 ms each), so
// waking sleeping threads through the kernel for each (tens of µs) would cost a large share
// of the step. Workers therefore spin for a short while after a loop before they sleep,
// and the caller spins while the workers finish.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "util/function_ref.h"

namespace mlxcpp {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads <= 0: hardware concurrency
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }
  // Inside parallel_for's function: which of the size() threads runs it (the caller is 0),
  // for per-thread scratch owned by the caller.
  static int thread_index() { return t_thread_index; }

  // Calls fn(begin, end) on disjoint chunks covering [0, n), on all threads including the caller.
  void parallel_for(int64_t n, FunctionRef<void(int64_t, int64_t)> fn);

 private:
  void worker_loop();
  void run_chunks();

  static thread_local int t_thread_index;
  std::vector<std::thread> workers_;
  std::mutex mutex_;  // guards sleeping: generation_ changes and stop_ are published under it
  std::condition_variable start_cv_;
  const FunctionRef<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int64_t> next_chunk_{0};
  int64_t chunks_ = 0;
  int sleepers_ = 0;
  std::atomic<bool> stop_{false};
};

}  // namespace mlxcpp
