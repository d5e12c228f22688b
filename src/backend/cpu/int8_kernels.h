// Shared declarations of the per-instruction-set int8 kernels (see int8_kernels.inc).
#pragma once

#include <cstdint>
#include <vector>

namespace mlxcpp {
struct WeightMatrix;
namespace cpu {

// Activations per input row: int8 blocks of 32 in the weights' element order (for 4-bit:
// the 16 even elements then the 16 odd ones), their scales, and exact per-group sums.
struct QInput {
  int64_t n, cols, group;
  std::vector<int8_t> q;     // [n][cols]
  std::vector<float> scale;  // [n][cols/32]
  // The rounding residual x - scale*q, quantized again (scale2 = scale/127 per block):
  // two int8 dot products give ~14-bit activations, at no cost in memory traffic.
  std::vector<int8_t> q2;
  std::vector<float> scale2;
  std::vector<float> gsum;   // [n][cols/group]
};

namespace avx2 {
void rows4(const WeightMatrix& w, const QInput& in, float* y, int64_t r0, int64_t r1);
void rows8(const WeightMatrix& w, const QInput& in, float* y, int64_t r0, int64_t r1);
}  // namespace avx2
namespace vnni {
void rows4(const WeightMatrix& w, const QInput& in, float* y, int64_t r0, int64_t r1);
void rows8(const WeightMatrix& w, const QInput& in, float* y, int64_t r0, int64_t r1);
}  // namespace vnni

}  // namespace cpu
}  // namespace mlxcpp
