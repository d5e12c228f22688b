// Measures the machine's memory read bandwidth the way decode uses it: T threads each
// summing its slice of a buffer much larger than the caches (best of several passes), the
// buffer in 2 MiB transparent huge pages where the kernel allows them, as the CPU decoder's
// weights (util/mapped_file.h) — on 4 KiB pages the prefetchers stop at every page and the
// figure is lower than what decode reaches. Decode speed is reported as a share of it
// (bench/peer_compare.sh).
// Usage: memory_bandwidth [THREADS] [MiB]

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : int(std::thread::hardware_concurrency());
  const size_t mib = argc > 2 ? size_t(std::atoi(argv[2])) : 1024;
  const size_t n = mib * 1024 * 1024 / sizeof(float);
  const size_t huge = size_t(2) << 20, bytes = (n * sizeof(float) + huge - 1) / huge * huge;
  void* raw = mmap(nullptr, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    std::perror("mmap");
    return 1;
  }
  float* buf = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(raw) + huge - 1) / huge * huge);
  madvise(buf, bytes, MADV_HUGEPAGE);
  for (size_t i = 0; i < n; ++i) buf[i] = float(i & 1023);
  std::vector<float> sums(static_cast<size_t>(threads));
  double best = 1e30;
  for (int pass = 0; pass < 5; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t_index = t] {
        const size_t b = n * size_t(t_index) / size_t(threads), e = n * size_t(t_index + 1) / size_t(threads);
        // 64-byte integer vectors, four independent chains: the loop must be limited by
        // memory, not by the adds (a scalar float sum measures the adder's latency instead).
        typedef unsigned long long v8u __attribute__((vector_size(64)));
        const v8u* p = reinterpret_cast<const v8u*>(buf + b);
        const size_t blocks = (e - b) / 16;
        v8u a0 = {}, a1 = {}, a2 = {}, a3 = {};
        size_t i = 0;
        for (; i + 4 <= blocks; i += 4) {
          v8u x0, x1, x2, x3;
          std::memcpy(&x0, p + i, 64); std::memcpy(&x1, p + i + 1, 64);
          std::memcpy(&x2, p + i + 2, 64); std::memcpy(&x3, p + i + 3, 64);
          a0 += x0; a1 += x1; a2 += x2; a3 += x3;
        }
        const v8u s = a0 + a1 + a2 + a3;
        unsigned long long t = 0;
        for (int k = 0; k < 8; ++k) t += s[k];
        sums[size_t(t_index)] = float(t & 0xffff);
      });
    for (auto& th : pool) th.join();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  float total = 0;
  for (float s : sums) total += s;
  std::printf("{\"threads\": %d, \"bytes\": %zu, \"read_gb_per_s\": %.2f, \"checksum\": %g}\n", threads, n * sizeof(float),
              double(n * sizeof(float)) / best / 1e9, double(total));
  return 0;
}
