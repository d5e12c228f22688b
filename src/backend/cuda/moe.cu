// Mixture-of-experts layers on the device, with no host round trip (so a decode step stays
// one CUDA graph): the router's probabilities pick each row's experts on the device, and
// the expert products read their weights through a device array of the layer's experts,
// so that decode reads only the chosen experts' weights. Every row and slot is computed
// on its own and a row adds its experts' outputs in the experts' order, as the CPU
// backend does: a sequence's result does not depend on the rows beside it.
#include <cfloat>

#include "backend/cuda/gemv.cuh"
#include "backend/cuda/gemv_rows.cuh"

namespace mlxcpp::cuda {
namespace {

constexpr int kWarps = 4;

// One warp per row: softmax over the E logits (float32), the top k by probability (the
// lower index on ties), their weights (renormalised to sum to one if asked), and the k
// slots written in ascending expert order.
__global__ void route_kernel(const float* logits, int n, int E, int K, bool renormalize, int32_t* expert,
                             float* weight) {
  griddep_wait();
  const int lane = threadIdx.x & 31;
  const int row = int(blockIdx.x) * kWarps + int(threadIdx.x >> 5);
  if (row >= n) return;
  const float* x = logits + int64_t(row) * E;
  float top = -FLT_MAX;
  for (int e = lane; e < E; e += 32) top = fmaxf(top, x[e]);
  top = warp_max(top);
  float sum = 0.0f;
  for (int e = lane; e < E; e += 32) sum += expf(x[e] - top);
  sum = warp_sum(sum);
  const float inv = 1.0f / sum;
  __shared__ int32_t chosen[kWarps][kMaxExpertsPerToken];
  __shared__ float prob[kWarps][kMaxExpertsPerToken];
  const int w = int(threadIdx.x >> 5);
  for (int k = 0; k < K; ++k) {
    // The best expert not chosen yet (probabilities are ≥ 0: a key's high half is the
    // probability's bits with the top bit set).
    unsigned long long best = 0;
    for (int e = lane; e < E; e += 32) {
      bool taken = false;
      for (int j = 0; j < k; ++j) taken = taken || chosen[w][j] == e;
      if (!taken) best = max(best, argmax_key(expf(x[e] - top) * inv, e));
    }
    for (int o = 16; o > 0; o >>= 1) best = max(best, __shfl_xor_sync(0xffffffffu, best, o));
    if (lane == 0) {
      chosen[w][k] = int32_t(0xFFFFFFFFu - uint32_t(best & 0xFFFFFFFFu));
      prob[w][k] = __uint_as_float(uint32_t(best >> 32) & 0x7FFFFFFFu);
    }
    __syncwarp();
  }
  if (lane != 0) return;
  float total = 0.0f;
  for (int k = 0; k < K; ++k) total += prob[w][k];
  for (int k = 1; k < K; ++k)  // insertion sort by expert index
    for (int j = k; j > 0 && chosen[w][j - 1] > chosen[w][j]; --j) {
      const int32_t e = chosen[w][j];
      chosen[w][j] = chosen[w][j - 1], chosen[w][j - 1] = e;
      const float p = prob[w][j];
      prob[w][j] = prob[w][j - 1], prob[w][j - 1] = p;
    }
  for (int k = 0; k < K; ++k) {
    expert[row * K + k] = chosen[w][k];
    weight[row * K + k] = renormalize ? prob[w][k] / total : prob[w][k];
  }
}

// y[s, r] = W[expert[s]][r] · x[s / x_div] (+ the expert's bias), one warp per (row, slot);
// `experts` holds the layer's [E][3] matrices (gate, up, down), matrix which + blockIdx.z
// of them, its outputs at y + blockIdx.z · y_next.
__global__ void __launch_bounds__(kWarps * 32) expert_gemv_kernel(const DevMatrix* experts, int which,
                                                                  const int32_t* expert, const float* x, int x_div,
                                                                  float* y, int64_t y_stride, int64_t y_next) {
  griddep_wait();
  const int lane = threadIdx.x & 31;
  const int64_t s = blockIdx.y;
  const DevMatrix& m = experts[expert[s] * 3 + which + int(blockIdx.z)];
  const int64_t row = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (row >= m.rows) return;
  const float* xs = x + (s / x_div) * m.cols;
  float acc = 0.0f;
  for (int64_t u = lane; u < m.cols / 8; u += 32) {
    float w[8];
    load8(m, row, u, w);
    const float4 a = __ldg(reinterpret_cast<const float4*>(xs) + 2 * u), b = __ldg(reinterpret_cast<const float4*>(xs) + 2 * u + 1);
    acc += w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
  }
  acc = warp_sum(acc);
  if (lane == 0) y[s * y_stride + int64_t(blockIdx.z) * y_next + row] = acc + (m.bias ? m.bias[row] : 0.0f);
}

// The same with int8 activations (decode rows): the dense layers' dp4a rows, R a warp.
constexpr int kExpertRows = 2;
template <int BITS, int SCALE>
__global__ void __launch_bounds__(kWarps * 32) expert_dp4a_kernel(const DevMatrix* experts, int which,
                                                                  const int32_t* expert, const int8_t* xq,
                                                                  const float2* xd, int x_div, float* y,
                                                                  int64_t y_stride, int64_t y_next) {
  griddep_wait();  // the router's choice picks the weights
  const int64_t s = blockIdx.y;
  const DevMatrix m = experts[expert[s] * 3 + which + int(blockIdx.z)];
  const int64_t r0 = (int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5)) * kExpertRows;
  const int64_t xs = s / x_div;
  dp4a_rows<BITS, kExpertRows, 1, SCALE, 4>(m, xq + xs * m.cols, xd + xs * (m.cols >> 5), 1,
                                             y + s * y_stride + int64_t(blockIdx.z) * y_next, 0, r0, true);
}

template <int BITS>
void launch_expert_dp4a(const DevMatrix& format, dim3 grid, cudaStream_t st, const DevMatrix* experts, int which,
                        const int32_t* expert, const int8_t* xq, const float2* xd, int x_div, float* y,
                        int64_t y_stride, int64_t y_next) {
  if (format.scale_bytes == 4)
    launch(expert_dp4a_kernel<BITS, 2>, grid, kWarps * 32, 0, st, experts, which, expert, xq, xd, x_div, y, y_stride, y_next);
  else if (format.scales_f16)
    launch(expert_dp4a_kernel<BITS, 1>, grid, kWarps * 32, 0, st, experts, which, expert, xq, xd, x_div, y, y_stride, y_next);
  else
    launch(expert_dp4a_kernel<BITS, 0>, grid, kWarps * 32, 0, st, experts, which, expert, xq, xd, x_div, y, y_stride, y_next);
}

// out[t, c] = Σ_k weight[t, k] · y[t·K + k, c], the slots in order.
__global__ void combine_kernel(const float* y, const float* weight, int n, int K, int64_t H, float* out) {
  griddep_wait();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(n) * H) return;
  const int64_t t = i / H, c = i - t * H;
  float acc = 0.0f;
  for (int k = 0; k < K; ++k) acc += weight[t * K + k] * y[(t * K + k) * H + c];
  out[i] = acc;
}

}  // namespace

void moe_route(const float* logits, int n, int E, int K, bool renormalize, int32_t* expert, float* weight,
               cudaStream_t st) {
  launch(route_kernel, ceil_div(n, kWarps), kWarps * 32, 0, st, logits, n, E, K, renormalize, expert, weight);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

void expert_gemv(const DevMatrix* experts, const DevMatrix& format, int which, int count, int64_t rows,
                 const int32_t* expert, int slots, XIn x, int x_div, float* y, int64_t y_stride, int64_t y_next,
                 cudaStream_t st) {
  if (x.xq && dp4a_eligible(format)) {
    const dim3 grid(ceil_div(rows, int64_t(kWarps) * kExpertRows), unsigned(slots), unsigned(count));
    if (format.bits == 4) launch_expert_dp4a<4>(format, grid, st, experts, which, expert, x.xq, x.xd, x_div, y, y_stride, y_next);
    else launch_expert_dp4a<8>(format, grid, st, experts, which, expert, x.xq, x.xd, x_div, y, y_stride, y_next);
  } else {
    const dim3 grid(ceil_div(rows, int64_t(kWarps)), unsigned(slots), unsigned(count));
    launch(expert_gemv_kernel, grid, kWarps * 32, 0, st, experts, which, expert, x.x, x_div, y, y_stride, y_next);
  }
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

void moe_combine(const float* y, const float* weight, int n, int K, int64_t H, float* out, cudaStream_t st) {
  launch(combine_kernel, ceil_div(int64_t(n) * H, int64_t(256)), 256, 0, st, y, weight, n, K, H, out);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

}  // namespace mlxcpp::cuda
