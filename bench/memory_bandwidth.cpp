// Measures the machine's memory read bandwidth the way decode uses it: T threads each
// summing its slice of a buffer much larger than the caches (best of several passes).
// Decode speed is reported as a share of this figure (bench/decode_bench.sh).
// Usage: memory_bandwidth [THREADS] [MiB]

#include <algorithm>
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
  std::vector<float> buf(n);
  for (size_t i = 0; i < n; ++i) buf[i] = float(i & 1023);
  std::vector<float> sums(static_cast<size_t>(threads));
  double best = 1e30;
  for (int pass = 0; pass < 5; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const size_t b = n * size_t(t) / size_t(threads), e = n * size_t(t + 1) / size_t(threads);
        float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
        size_t i = b;
        for (; i + 8 <= e; i += 8) {
          a0 += buf[i]; a1 += buf[i + 1]; a2 += buf[i + 2]; a3 += buf[i + 3];
          a4 += buf[i + 4]; a5 += buf[i + 5]; a6 += buf[i + 6]; a7 += buf[i + 7];
        }
        sums[size_t(t)] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
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
