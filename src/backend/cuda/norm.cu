// RMSNorm, alone and fused with the residual add that precedes it in every layer.
#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/kernels.cuh"

namespace mlxcpp::cuda {
namespace {

// Threads per row: enough that a 4096-wide row takes four values per thread (decode
// runs one row, so the block is the whole kernel).
unsigned threads_for(int64_t cols) { return cols >= 4096 ? 1024u : cols >= 1024 ? 256u : 128u; }

// y = x * w' / sqrt(mean(x²) + eps), w' = w or 1 + w; one block per row. No w: y = x (a
// layer without this norm, OLMo 2's).
__device__ void norm_row(const float* x, const float* w, float* y, int64_t cols, float eps, bool offset) {
  if (!w) {
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) y[i] = x[i];
    return;
  }
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) ss += x[i] * x[i];
  const float inv = rsqrtf(block_sum(ss) / float(cols) + eps);
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) y[i] = (x[i] * inv) * (offset ? 1.0f + w[i] : w[i]);
}

// One row: x += (delta_w ? rms_norm(delta, delta_w) : delta), then h = rms_norm(x, w).
__device__ void residual_norm_row(float* x, const float* delta, const float* delta_w, const float* w, float* h,
                                  int64_t cols, float eps, bool offset) {
  float dinv = 1.0f;
  if (delta_w) {
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) ss += delta[i] * delta[i];
    dinv = rsqrtf(block_sum(ss) / float(cols) + eps);
  }
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x)
    x[i] += delta_w ? (delta[i] * dinv) * (offset ? 1.0f + delta_w[i] : delta_w[i]) : delta[i];
  norm_row(x, w, h, cols, eps, offset);  // each thread reads back only what it wrote
}

__global__ void rms_norm_kernel(const float* x, const float* w, float* y, int64_t cols, float eps, bool offset,
                                int8_t* xq, float2* xd) {
  griddep_wait();
  const int64_t r = blockIdx.x;
  norm_row(x + r * cols, w, y + r * cols, cols, eps, offset);
  if (xq && cols % 32 == 0)
    quantize_row_in_block(y + r * cols, cols, xq + r * cols, xd + r * (cols / 32));
}

// Row r's `cols` values at x + r·stride normalised in place (OLMo 2's q and k, normalised
// over the whole projection inside the q|k|v rows).
__global__ void segment_norm_kernel(float* x, int64_t stride, int64_t cols, const float* w, float eps) {
  griddep_wait();
  float* row = x + int64_t(blockIdx.x) * stride;
  norm_row(row, w, row, cols, eps, false);  // each thread rewrites only what it read
}

__global__ void residual_norm_kernel(float* x, const float* delta, const float* delta_w, const float* w, float* y,
                                     int64_t cols, float eps, bool offset, int8_t* xq, float2* xd) {
  griddep_wait();
  const int64_t r = blockIdx.x;
  residual_norm_row(x + r * cols, delta + r * cols, delta_w, w, y + r * cols, cols, eps, offset);
  if (xq && cols % 32 == 0)
    quantize_row_in_block(y + r * cols, cols, xq + r * cols, xd + r * (cols / 32));
}

// The same with the row held in registers (one block per row, VPT values per thread,
// blockDim = cols / VPT): every load is issued up front and the dp4a quantization of
// each block of 32 happens among the 32/VPT threads that hold it, so a decode step's
// norm is a single pass over memory. delta null: y = rms_norm(x) only.
// mix.y: the delta is a mixture's output, Σ_k weight[r·K + k] · y[r·K + k] (moe_combine's
// sum, in its order), read here instead of from a combined row.
template <int VPT>
__global__ void norm_regs_kernel(float* x, const float* delta, const float* delta_w, const float* w, float* y,
                                 int64_t cols, float eps, bool offset, int8_t* xq, float2* xd, MixtureDelta mix) {
  griddep_wait();
  const int64_t r = blockIdx.x, base = r * cols + int64_t(threadIdx.x) * VPT;
  const int64_t wbase = int64_t(threadIdx.x) * VPT;
  const bool has_delta = delta || mix.y;
  float xv[VPT], dv[VPT], wv[VPT], dw[VPT];
#pragma unroll
  for (int i = 0; i < VPT; i += 4) {
    const float4 a = *reinterpret_cast<const float4*>(x + base + i);
    const float4 c = w ? *reinterpret_cast<const float4*>(w + wbase + i) : make_float4(1, 1, 1, 1);
    xv[i] = a.x, xv[i + 1] = a.y, xv[i + 2] = a.z, xv[i + 3] = a.w;
    wv[i] = c.x, wv[i + 1] = c.y, wv[i + 2] = c.z, wv[i + 3] = c.w;
    if (mix.y) {
      float4 sum = make_float4(0, 0, 0, 0);
      for (int k = 0; k < mix.K; ++k) {
        const float wk = mix.weight[r * mix.K + k];
        const float4 b = *reinterpret_cast<const float4*>(mix.y + (r * mix.K + k) * cols + wbase + i);
        sum.x += wk * b.x, sum.y += wk * b.y, sum.z += wk * b.z, sum.w += wk * b.w;
      }
      dv[i] = sum.x, dv[i + 1] = sum.y, dv[i + 2] = sum.z, dv[i + 3] = sum.w;
    } else if (delta) {
      const float4 b = *reinterpret_cast<const float4*>(delta + base + i);
      dv[i] = b.x, dv[i + 1] = b.y, dv[i + 2] = b.z, dv[i + 3] = b.w;
    }
    if (delta_w) {
      const float4 e = *reinterpret_cast<const float4*>(delta_w + wbase + i);
      dw[i] = e.x, dw[i + 1] = e.y, dw[i + 2] = e.z, dw[i + 3] = e.w;
    }
  }
  if (has_delta) {
    float dinv = 1.0f;
    if (delta_w) {
      float ss = 0.0f;
#pragma unroll
      for (int i = 0; i < VPT; ++i) ss += dv[i] * dv[i];
      dinv = rsqrtf(block_sum(ss) / float(cols) + eps);
    }
#pragma unroll
    for (int i = 0; i < VPT; ++i) xv[i] += delta_w ? (dv[i] * dinv) * (offset ? 1.0f + dw[i] : dw[i]) : dv[i];
#pragma unroll
    for (int i = 0; i < VPT; i += 4)
      *reinterpret_cast<float4*>(x + base + i) = make_float4(xv[i], xv[i + 1], xv[i + 2], xv[i + 3]);
  }
  float ss = 0.0f;
#pragma unroll
  for (int i = 0; i < VPT; ++i) ss += xv[i] * xv[i];
  const float inv = w ? rsqrtf(block_sum(ss) / float(cols) + eps) : 1.0f;  // no w: y = x
  float yv[VPT];
#pragma unroll
  for (int i = 0; i < VPT; ++i) yv[i] = w ? (xv[i] * inv) * (offset ? 1.0f + wv[i] : wv[i]) : xv[i];
#pragma unroll
  for (int i = 0; i < VPT; i += 4)
    *reinterpret_cast<float4*>(y + base + i) = make_float4(yv[i], yv[i + 1], yv[i + 2], yv[i + 3]);
  if (!xq) return;
  constexpr int G = 32 / VPT;  // threads per block of 32 values (aligned within the warp)
  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < VPT; ++i) amax = fmaxf(amax, fabsf(yv[i]));
#pragma unroll
  for (int o = 1; o < G; o <<= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const float d = amax / 127.0f;
  int q[VPT], coded = 0;
#pragma unroll
  for (int i = 0; i < VPT; ++i) coded += q[i] = quantize1(yv[i], d);
#pragma unroll
  for (int o = 1; o < G; o <<= 1) coded += __shfl_xor_sync(0xffffffffu, coded, o);
#pragma unroll
  for (int i = 0; i < VPT; i += 4)
    *reinterpret_cast<char4*>(xq + base + i) = make_char4(q[i], q[i + 1], q[i + 2], q[i + 3]);
  if ((threadIdx.x & (G - 1)) == 0) xd[base / 32] = make_float2(d, d * float(coded));  // see quantize_warp_block
}

// Values per thread for the register kernel, or 0 when the row does not suit it.
int regs_vpt(int64_t cols) {
  // Most threads first (measured: 4.3 µs for a 4096-wide row at 4 per thread, 5.7 at 16).
  for (int vpt : {4, 8, 16})
    if (cols % (32 * vpt) == 0 && cols / vpt <= 1024) return vpt;
  return 0;
}

bool launch_regs(float* x, const float* delta, const float* delta_w, const float* w, float* y, int n, int64_t cols,
                 float eps, bool offset, int8_t* xq, float2* xd, cudaStream_t st, MixtureDelta mix = {}) {
  const int vpt = regs_vpt(cols);
  if (!vpt) return false;
  const unsigned threads = unsigned(cols / vpt);
  if (vpt == 4) launch(norm_regs_kernel<4>, n, threads, 0, st, x, delta, delta_w, w, y, cols, eps, offset, xq, xd, mix);
  else if (vpt == 8) launch(norm_regs_kernel<8>, n, threads, 0, st, x, delta, delta_w, w, y, cols, eps, offset, xq, xd, mix);
  else launch(norm_regs_kernel<16>, n, threads, 0, st, x, delta, delta_w, w, y, cols, eps, offset, xq, xd, mix);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
  return true;
}

}  // namespace

void rms_norm(const float* x, const float* w, float* y, int n, int64_t cols, float eps, bool offset, int8_t* xq,
              float2* xd, cudaStream_t st) {
  if (launch_regs(const_cast<float*>(x), nullptr, nullptr, w, y, n, cols, eps, offset, xq, xd, st)) return;
  launch(rms_norm_kernel, n, threads_for(cols), 0, st, x, w, y, cols, eps, offset, xq, xd);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

void segment_norm(float* x, int n, int64_t stride, int64_t cols, const float* w, float eps, cudaStream_t st) {
  launch(segment_norm_kernel, n, threads_for(cols), 0, st, x, stride, cols, w, eps);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

void residual_norm(float* x, const float* delta, const float* delta_w, const float* w, float* y, int n, int64_t cols,
                   float eps, bool offset, int8_t* xq, float2* xd, cudaStream_t st) {
  if (launch_regs(x, delta, delta_w, w, y, n, cols, eps, offset, xq, xd, st)) return;
  launch(residual_norm_kernel, n, threads_for(cols), 0, st, x, delta, delta_w, w, y, cols, eps, offset, xq, xd);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

void residual_norm_mixture(float* x, MixtureDelta mix, float* scratch, const float* delta_w, const float* w, float* y,
                           int n, int64_t cols, float eps, bool offset, int8_t* xq, float2* xd, cudaStream_t st) {
  if (launch_regs(x, nullptr, delta_w, w, y, n, cols, eps, offset, xq, xd, st, mix)) return;
  moe_combine(mix.y, mix.weight, n, mix.K, cols, scratch, st);
  residual_norm(x, scratch, delta_w, w, y, n, cols, eps, offset, xq, xd, st);
}

}  // namespace mlxcpp::cuda
