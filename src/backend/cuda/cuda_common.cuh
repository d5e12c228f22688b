// Shared by the CUDA kernels: error checks, small conversions, warp reductions.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace mlxcpp::cuda {

// Errors leave the backend as std::runtime_error with the failing call named; the caller
// (DecoderLM) rethrows them as mlxcpp::Error.
[[noreturn]] inline void throw_cuda(cudaError_t err, const char* what) {
  throw std::runtime_error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(err));
}
#define MLXCPP_CUDA_CHECK(call)                            \
  do {                                                     \
    const cudaError_t err_ = (call);                       \
    if (err_ != cudaSuccess) ::mlxcpp::cuda::throw_cuda(err_, #call); \
  } while (0)

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float bf16_bits_to_f32(uint16_t b) { return __uint_as_float(uint32_t(b) << 16); }
__device__ __forceinline__ float f16_bits_to_f32(uint16_t b) { return __half2float(__ushort_as_half(b)); }

inline unsigned ceil_div(int64_t a, int64_t b) { return unsigned((a + b - 1) / b); }

}  // namespace mlxcpp::cuda
