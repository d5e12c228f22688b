#include "util/thread_pool.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mlxcpp {

thread_local int ThreadPool::t_thread_index = 0;

namespace {

// Chunks per thread and loop: enough to even out uneven progress, few enough that each
// chunk is a long sequential run through the weights.
constexpr int64_t kChunksPerThread = 8;

// How long an idle worker keeps polling for the next loop before it sleeps: long enough
// to bridge the single-threaded work between two products of a decode step, short enough
// not to hold a core when generation has stopped.
constexpr auto kSpinTime = std::chrono::microseconds(500);

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// One step of a spin-wait. Every 64th step offers the core to the scheduler: with more
// threads than cores (--threads above the core count, a container's CPU quota) a thread
// that only spun would hold the core the thread it waits for needs (measured: decode 5x
// slower at 4 threads on 2 cores); alone on its core, the offer costs a system call.
inline void spin_step(int step) {
  if ((step & 63) == 63) std::this_thread::yield();
  else cpu_relax();
}

// Thread `index` of `count` takes the index-th contiguous slice of [0, n).
std::pair<int64_t, int64_t> slice(int64_t n, int index, int count) {
  const int64_t base = n / count, extra = n % count;
  const int64_t begin = index * base + std::min<int64_t>(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

// A signal sent to the process (Ctrl-C, a terminal resize, kill) goes to any thread that
// does not block it: a worker that took SIGINT would leave the main thread's terminal read
// uninterrupted (chat's Ctrl-C at the prompt, seen under load). The workers block them;
// faults (SIGSEGV, SIGBUS, ...) stay with the thread that caused them.
void block_process_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGWINCH, SIGPIPE})
    sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] {
    t_thread_index = i;
    block_process_signals();
    worker_loop();
  });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::parallel_for(int64_t n, FunctionRef<void(int64_t, int64_t)> fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1) {
    fn(0, n);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  chunks_ = std::min<int64_t>(n, int64_t(size()) * kChunksPerThread);
  next_chunk_.store(0, std::memory_order_relaxed);
  pending_.store(int(workers_.size()), std::memory_order_relaxed);
  bool wake;
  {
    // Under the mutex so that a worker about to sleep either sees the new generation or
    // is counted in sleepers_ and notified.
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
    wake = sleepers_ > 0;
  }
  if (wake) start_cv_.notify_all();
  run_chunks();
  for (int step = 0; pending_.load(std::memory_order_acquire) != 0; ++step) spin_step(step);
  job_ = nullptr;
}

// Threads take chunks in turn until none is left, so one that started late or runs slower
// (another process, a busier memory channel) does not hold the others waiting.
void ThreadPool::run_chunks() {
  for (;;) {
    const int64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (c >= chunks_) return;
    const auto [b, e] = slice(job_n_, int(c), int(chunks_));
    if (e > b) (*job_)(b, e);
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    // Poll first; sleep only when no loop came for kSpinTime.
    uint64_t now = generation_.load(std::memory_order_acquire);
    if (now == seen) {
      const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
      for (int spins = 0; now == seen; ++spins) {
        spin_step(spins);
        now = generation_.load(std::memory_order_acquire);
        if ((spins & 255) == 255 && std::chrono::steady_clock::now() > deadline) break;
      }
    }
    if (now == seen) {
      std::unique_lock lock(mutex_);
      ++sleepers_;
      start_cv_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
      --sleepers_;
      now = generation_.load(std::memory_order_relaxed);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = now;
    run_chunks();
    pending_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace mlxcpp
