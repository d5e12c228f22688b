#include "hardware/bandwidth.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace mlxcpp {

namespace {

// 64-byte integer vectors in four independent chains: the loop is bound by memory, not by
// the adds (a scalar float sum would measure the adder's latency instead).
uint64_t sum_slice(const unsigned char* p, size_t bytes) {
  typedef unsigned long long v8u __attribute__((vector_size(64)));
  const size_t blocks = bytes / 64;
  v8u a0 = {}, a1 = {}, a2 = {}, a3 = {};
  size_t i = 0;
  for (; i + 4 <= blocks; i += 4) {
    v8u x0, x1, x2, x3;
    std::memcpy(&x0, p + 64 * i, 64);
    std::memcpy(&x1, p + 64 * (i + 1), 64);
    std::memcpy(&x2, p + 64 * (i + 2), 64);
    std::memcpy(&x3, p + 64 * (i + 3), 64);
    a0 += x0, a1 += x1, a2 += x2, a3 += x3;
  }
  const v8u s = a0 + a1 + a2 + a3;
  uint64_t t = 0;
  for (int k = 0; k < 8; ++k) t += s[k];
  return t;
}

}  // namespace

double measure_read_bandwidth(int threads, size_t bytes, int passes) {
  threads = std::max(1, threads);
  const size_t huge = size_t(2) << 20;
  bytes = (bytes + huge - 1) / huge * huge;
  void* raw = mmap(nullptr, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return 0;
  auto* buf = reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(raw) + huge - 1) / huge * huge);
  madvise(buf, bytes, MADV_HUGEPAGE);
  for (size_t i = 0; i < bytes; i += 4096) buf[i] = static_cast<unsigned char>(i >> 12);
  std::vector<uint64_t> sums(size_t(threads), 0);
  double best = 1e30;
  for (int pass = 0; pass < passes; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const size_t b = bytes * size_t(t) / size_t(threads) / 64 * 64, e = bytes * size_t(t + 1) / size_t(threads) / 64 * 64;
        sums[size_t(t)] += sum_slice(buf + b, e - b);
      });
    for (auto& th : pool) th.join();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  munmap(raw, bytes + huge);
  // The sums must look used, or the reads could be dropped.
  volatile uint64_t sink = 0;
  for (const uint64_t s : sums) sink = sink + s;
  return best > 0 ? double(bytes) / best : 0;
}

}  // namespace mlxcpp
