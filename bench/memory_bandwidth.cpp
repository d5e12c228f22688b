// Prints this machine's memory read bandwidth as decode uses it (hardware/bandwidth.h:
// T threads summing slices of a buffer in huge pages, best of several passes). Decode
// speed is reported as a share of it (bench/peer_compare.sh).
// Usage: memory_bandwidth [THREADS] [MiB]
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "hardware/bandwidth.h"

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : int(std::thread::hardware_concurrency());
  const size_t mib = argc > 2 ? size_t(std::atoi(argv[2])) : 1024;
  const double bw = mlxcpp::measure_read_bandwidth(threads, mib << 20, 5);
  if (bw <= 0) {
    std::fprintf(stderr, "memory_bandwidth: could not map %zu MiB\n", mib);
    return 1;
  }
  std::printf("{\"threads\": %d, \"bytes\": %zu, \"read_gb_per_s\": %.2f}\n", threads, mib << 20, bw / 1e9);
  return 0;
}
