// Matrix-vector products for decode: each weight byte is read once from device memory, so
// these run at the memory-bandwidth limit. A batch's rows go in tiles of kMaxGemvRows: the
// blocks of one weight-row block for every tile run next to each other (the tile is the
// fastest-varying block index), so the weights come from DRAM once and from L2 for the
// other tiles; each row's sum is the same whatever tile it is in and however many rows
// there are (a lane's chunks in order, then the warp's sum), which keeps a sequence's
// results the same alone or in a batch.
//  - gemv_dp4a: affine 4- and 8-bit weights against int8 activations (quantized in blocks
//    of 32: see XIn), four multiply-adds per dp4a instruction; the weight's bias term uses
//    the sum of each activation block's coded values.
//  - gemv_generic: every format through load8, float32 activations (also the reference
//    precision's path).
#include "backend/cuda/gemv.cuh"
#include "backend/cuda/gemv_rows.cuh"

namespace mlxcpp::cuda {
namespace {

constexpr int kWarps = 4;  // per block

template <int BITS, int R, int NT, int SCALE, int U>
__global__ void __launch_bounds__(kWarps * 32) gemv_dp4a(DevMatrix m, const int8_t* xq, const float2* xd, int n_all,
                                                         float* y, int64_t y_stride, int tiles) {
  griddep_launch_dependents();
  const int warp = threadIdx.x >> 5;
  const int tile = int(blockIdx.x % unsigned(tiles));
  const int64_t r0 = (int64_t(blockIdx.x / unsigned(tiles)) * kWarps + warp) * R;
  const int n = min(NT, n_all - tile * NT);
  dp4a_rows<BITS, R, NT, SCALE, U>(m, xq + int64_t(tile) * NT * m.cols, xd + int64_t(tile) * NT * (m.cols >> 5), n,
                                   y + int64_t(tile) * NT * y_stride, y_stride, r0, false);
}

// One warp per output row; lanes take 8-element units.
template <int NT>
__global__ void __launch_bounds__(kWarps * 32) gemv_generic(DevMatrix m, const float* x, int n_all, float* y,
                                                            int64_t y_stride, int tiles) {
  griddep_wait();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int tile = int(blockIdx.x % unsigned(tiles));
  const int64_t row = int64_t(blockIdx.x / unsigned(tiles)) * kWarps + warp;
  const int n = min(NT, n_all - tile * NT);
  x += int64_t(tile) * NT * m.cols;
  y += int64_t(tile) * NT * y_stride;
  if (row >= m.rows) return;
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.0f;
  const int units = int(m.cols / 8);
  for (int u = lane; u < units; u += 32) {
    float w[8];
    load8(m, row, u, w);
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      if (t >= n) break;
      const float4* xp = reinterpret_cast<const float4*>(x + t * m.cols) + 2 * u;
      const float4 a = __ldg(xp), b = __ldg(xp + 1);
      acc[t] += w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
    }
  }
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const float v = warp_sum(acc[t]);
    if (lane == 0 && t < n) y[t * y_stride + row] = v + (m.bias ? m.bias[row] : 0.0f);
  }
}

template <int BITS, int SCALE>
void launch_dp4a(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y, int64_t ys, cudaStream_t st) {
  // R = 2 rows per warp, U = 4 chunks in flight per lane: measured on the H100 against
  // R = 4/U = 2 (4-bit +0.8 %, 8-bit −2.5 %), R = 1/U = 8 and R = 2/U = 8 (8-14 % slower),
  // and against splitting the smaller matrices' columns over a block's warps (2-5 % slower);
  // again with one activation code: R = 4/U = 4 the same (400.2 against 400.3 tokens/s),
  // R = 2/U = 8 and R = 1/U = 8 10 % slower.
  constexpr int R = 2;
  const int tiles = int(ceil_div(n, kMaxGemvRows));
  const unsigned blocks = ceil_div(m.rows, int64_t(kWarps) * R) * unsigned(tiles);
  if (n == 1) launch(gemv_dp4a<BITS, R, 1, SCALE, 4>, blocks, kWarps * 32, 0, st, m, xq, xd, n, y, ys, 1);
  else launch(gemv_dp4a<BITS, R, kMaxGemvRows, SCALE, 2>, blocks, kWarps * 32, 0, st, m, xq, xd, n, y, ys, tiles);
}

}  // namespace

bool dp4a_eligible(const DevMatrix& m) {
  return m.kind == MatrixPlan::Kind::Affine && (m.bits == 4 || m.bits == 8) && m.group % 32 == 0 && m.cols % 32 == 0;
}

void gemv_int8(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y, int64_t y_stride,
               cudaStream_t st) {
  with_dp4a_format(m, [&](auto bits, auto scale) { launch_dp4a<bits(), scale()>(m, xq, xd, n, y, y_stride, st); });
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

void gemv_f32(const DevMatrix& m, const float* x, int n, float* y, int64_t y_stride, cudaStream_t st) {
  const int tiles = int(ceil_div(n, kMaxGemvRows));
  const unsigned blocks = ceil_div(m.rows, kWarps) * unsigned(tiles);
  if (n == 1) launch(gemv_generic<1>, blocks, kWarps * 32, 0, st, m, x, n, y, y_stride, 1);
  else launch(gemv_generic<kMaxGemvRows>, blocks, kWarps * 32, 0, st, m, x, n, y, y_stride, tiles);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

}  // namespace mlxcpp::cuda
