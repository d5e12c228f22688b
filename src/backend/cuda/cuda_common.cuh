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
__device__ __forceinline__ int warp_sum_int(int v) { return __reduce_add_sync(0xffffffffu, v); }
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// (value, index) packed so that a larger key is a larger value or, for equal values, a
// smaller index: a max over keys (an atomicMax, a warp's shuffles) is an argmax that
// takes the first of equals. The index comes back as 0xFFFFFFFF − the low 32 bits.
__device__ __forceinline__ unsigned long long argmax_key(float v, int64_t i) {
  uint32_t u = __float_as_uint(v);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // order-preserving as unsigned
  return (static_cast<unsigned long long>(u) << 32) | (0xFFFFFFFFu - uint32_t(i));
}
__device__ __forceinline__ float bf16_bits_to_f32(uint16_t b) { return __uint_as_float(uint32_t(b) << 16); }
__device__ __forceinline__ float f16_bits_to_f32(uint16_t b) { return __half2float(__ushort_as_half(b)); }

inline unsigned ceil_div(int64_t a, int64_t b) { return unsigned((a + b - 1) / b); }

// An attribute of the current device.
inline int device_attribute(cudaDeviceAttr attribute) {
  int device = 0, value = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&value, attribute, device);
  return value;
}
// Asked once: the products size their split-K grids by the SM count, and take cluster
// kernels from compute capability 9.
inline int sm_count() {
  static const int sms = device_attribute(cudaDevAttrMultiProcessorCount);
  return sms;
}
inline int compute_major() {
  static const int major = device_attribute(cudaDevAttrComputeCapabilityMajor);
  return major;
}

// Programmatic dependent launch (Hopper). A decode step is ~260 short dependent kernels,
// each of which would otherwise pay its launch and its first memory latency in turn
// (about 5 µs for a matrix-vector product, measured). Every kernel lets the next one
// launch as soon as all of its own blocks are running (griddep_launch_dependents), and
// every kernel waits for the previous one to finish at griddep_wait(), before it reads that
// kernel's results or writes anything. Loads of constant data (the weights) may come
// before the wait: the next product's weights stream in while this kernel runs.
__device__ __forceinline__ void griddep_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void griddep_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Whether launches ask for programmatic serialization (set once the device is known:
// compute capability 9.0 or newer).
inline bool& pdl_enabled() {
  static bool on = false;
  return on;
}

// A launch with programmatic serialization where enabled and, for cluster sizes above 1,
// thread-block clusters of `cluster` blocks (sm_90).
template <typename... KArgs, typename... Args>
void launch_clustered(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t st, dim3 cluster,
                      Args... args) {
  cudaLaunchAttribute attr[2];
  unsigned count = 0;
  if (pdl_enabled()) {
    attr[count].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[count++].val.programmaticStreamSerializationAllowed = 1;
  }
  if (cluster.x * cluster.y * cluster.z > 1) {
    attr[count].id = cudaLaunchAttributeClusterDimension;
    attr[count].val.clusterDim.x = cluster.x, attr[count].val.clusterDim.y = cluster.y;
    attr[count++].val.clusterDim.z = cluster.z;
  }
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = st;
  cfg.attrs = attr;
  cfg.numAttrs = count;
  const cudaError_t err = cudaLaunchKernelEx(&cfg, kernel, static_cast<KArgs>(args)...);
  if (err != cudaSuccess) throw_cuda(err, "kernel launch");
}

template <typename... KArgs, typename... Args>
void launch(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t st, Args... args) {
  launch_clustered(kernel, grid, block, smem, st, dim3(1, 1, 1), args...);
}

}  // namespace mlxcpp::cuda
