// This machine's memory read bandwidth, measured the way decode reads weights: `threads`
// threads each summing their slice of a buffer much larger than the caches, in 2 MiB
// transparent huge pages where the kernel allows them (best of a few passes). Takes about
// a tenth of a second for the default 256 MiB. recommend divides it into the bytes a model
// reads per token for its expected speed; bench/memory_bandwidth prints it.
#pragma once

#include <cstddef>

namespace mlxcpp {

// Bytes per second; 0 when the buffer cannot be had.
double measure_read_bandwidth(int threads, size_t bytes = size_t(256) << 20, int passes = 3);

}  // namespace mlxcpp
