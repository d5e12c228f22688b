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
// slots written in ascending expert order. Each lane keeps its E / 32 experts' keys in
// registers (PER of them), so that each of the k rounds is a local max and one warp
// reduction: the round's winner clears its key.
template <int PER>
__global__ void route_kernel(const float* logits, int n, int E, int K, bool renormalize, int32_t* expert,
                             float* weight) {
  griddep_wait();
  const int lane = threadIdx.x & 31;
  const int row = int(blockIdx.x) * kWarps + int(threadIdx.x >> 5);
  if (row >= n) return;
  const float* x = logits + int64_t(row) * E;
  float v[PER];
#pragma unroll
  for (int j = 0; j < PER; ++j) v[j] = lane + 32 * j < E ? x[lane + 32 * j] : -FLT_MAX;
  float top = -FLT_MAX;
#pragma unroll
  for (int j = 0; j < PER; ++j) top = fmaxf(top, v[j]);
  top = warp_max(top);
  float sum = 0.0f;
#pragma unroll
  for (int j = 0; j < PER; ++j)
    if (lane + 32 * j < E) sum += expf(v[j] - top);
  sum = warp_sum(sum);
  const float inv = 1.0f / sum;
  // Probabilities are ≥ 0: a key's high half is the probability's bits with the top bit
  // set, so that a taken or absent expert (key 0) never wins.
  unsigned long long key[PER];
#pragma unroll
  for (int j = 0; j < PER; ++j) key[j] = lane + 32 * j < E ? argmax_key(expf(v[j] - top) * inv, lane + 32 * j) : 0ull;
  int32_t my_expert = 0;  // lane k < K: round k's choice
  float my_prob = 0.0f;
  for (int k = 0; k < K; ++k) {
    unsigned long long best = 0;
#pragma unroll
    for (int j = 0; j < PER; ++j) best = max(best, key[j]);
    for (int o = 16; o > 0; o >>= 1) best = max(best, __shfl_xor_sync(0xffffffffu, best, o));
#pragma unroll
    for (int j = 0; j < PER; ++j)
      if (key[j] == best) key[j] = 0;
    if (lane == k) {
      my_expert = int32_t(0xFFFFFFFFu - uint32_t(best & 0xFFFFFFFFu));
      my_prob = __uint_as_float(uint32_t(best >> 32) & 0x7FFFFFFFu);
    }
  }
  // The total in choice order (as the CPU backend adds them), then each choice written at
  // its rank among the chosen expert indices.
  float total = 0.0f;
  for (int k = 0; k < K; ++k) total += __shfl_sync(0xffffffffu, my_prob, k);
  int rank = 0;
  for (int k = 0; k < K; ++k) rank += __shfl_sync(0xffffffffu, my_expert, k) < my_expert ? 1 : 0;
  if (lane < K) {
    expert[row * K + rank] = my_expert;
    weight[row * K + rank] = renormalize ? my_prob / total : my_prob;
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
  const unsigned grid = ceil_div(n, kWarps);
  if (E <= 32)
    launch(route_kernel<1>, grid, kWarps * 32, 0, st, logits, n, E, K, renormalize, expert, weight);
  else if (E <= 128)
    launch(route_kernel<4>, grid, kWarps * 32, 0, st, logits, n, E, K, renormalize, expert, weight);
  else if (E <= kMaxExperts)
    launch(route_kernel<kMaxExperts / 32>, grid, kWarps * 32, 0, st, logits, n, E, K, renormalize, expert, weight);
  else
    throw std::invalid_argument("moe_route: " + std::to_string(E) + " experts; at most " + std::to_string(kMaxExperts));
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

void expert_gemv(const DevMatrix* experts, const DevMatrix& format, int which, int count, int64_t rows,
                 const int32_t* expert, int slots, XIn x, int x_div, float* y, int64_t y_stride, int64_t y_next,
                 cudaStream_t st) {
  if (x.xq && dp4a_eligible(format)) {
    const dim3 grid(ceil_div(rows, int64_t(kWarps) * kExpertRows), unsigned(slots), unsigned(count));
    with_dp4a_format(format, [&](auto bits, auto scale) {
      launch(expert_dp4a_kernel<bits(), scale()>, grid, kWarps * 32, 0, st, experts, which, expert, x.xq, x.xd, x_div,
             y, y_stride, y_next);
    });
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
