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

namespace mlxcpp::cuda {
namespace {

constexpr int kWarps = 4;  // per block

__device__ __forceinline__ int dp4a_us(uint32_t a, int b, int c) {
  int d;
  asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}

template <int SCALE>  // 0: bf16, 1: f16, 2: f32
__device__ __forceinline__ float scale_at(const uint8_t* p, int64_t i) {
  if constexpr (SCALE == 2) return __ldg(reinterpret_cast<const float*>(p) + i);
  const uint16_t b = __ldg(reinterpret_cast<const unsigned short*>(p) + i);
  return SCALE == 1 ? f16_bits_to_f32(b) : bf16_bits_to_f32(b);
}

// Each warp computes R consecutive output rows; a lane takes 32-value chunks (BITS 32-bit
// words each: 16 B at 4 bits, 32 B at 8), U at a time, all loaded before any is used so
// that enough bytes are in flight to cover the memory latency: decode is a pure stream of
// weights. The weights of the first chunks are requested before waiting for the previous
// kernel (programmatic dependent launch). (Running the residual norm that follows in the
// last block to finish, instead of its own kernel, measured 43 % slower: one block's
// serial tail plus a fence in every block.)
template <int BITS, int R, int NT, int SCALE, int U>
__global__ void __launch_bounds__(kWarps * 32) gemv_dp4a(DevMatrix m, const int8_t* xq, const float2* xd, int n_all,
                                                         float* y, int64_t y_stride, int tiles) {
  constexpr int V = BITS / 4;  // 16-byte loads per chunk and row
  griddep_launch_dependents();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int tile = int(blockIdx.x % unsigned(tiles));
  const int64_t r0 = (int64_t(blockIdx.x / unsigned(tiles)) * kWarps + warp) * R;
  const int n = min(NT, n_all - tile * NT);
  xq += int64_t(tile) * NT * m.cols;
  xd += int64_t(tile) * NT * (m.cols >> 5);
  y += int64_t(tile) * NT * y_stride;
  const bool active = r0 < m.rows;
  const int chunks = int(m.cols >> 5), chunk_shift = m.group_shift - 5;
  const int64_t words_per_row = (m.cols * BITS) >> 5;
  const uint4* wrow[R];
  int64_t srow[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t row = min(r0 + r, m.rows - 1);  // a tail row past the end recomputes the last; dropped below
    wrow[r] = reinterpret_cast<const uint4*>(reinterpret_cast<const uint32_t*>(m.data) + row * words_per_row);
    srow[r] = row * m.groups_per_row;
  }
  float acc[R][NT];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = 0.0f;

  bool waited = false;
  for (int c0 = lane; active && c0 < chunks; c0 += 32 * U) {
    uint4 w[U][R][V];
    float s[U][R], b[U][R];
    int4 xa[U][NT], xb[U][NT];
    float2 d[U][NT];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = min(c0 + 32 * u, chunks - 1);  // past the end: a valid address, result unused
#pragma unroll
      for (int r = 0; r < R; ++r) {
#pragma unroll
        for (int j = 0; j < V; ++j) w[u][r][j] = __ldg(wrow[r] + int64_t(c) * V + j);
        s[u][r] = scale_at<SCALE>(m.scales, srow[r] + (c >> chunk_shift));
        b[u][r] = scale_at<SCALE>(m.biases, srow[r] + (c >> chunk_shift));
      }
    }
    if (!waited) {
      griddep_wait();
      waited = true;
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = min(c0 + 32 * u, chunks - 1);
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        const int tt = min(t, n - 1);
        const int4* xp = reinterpret_cast<const int4*>(xq + tt * m.cols) + 2 * c;
        xa[u][t] = __ldg(xp);
        xb[u][t] = __ldg(xp + 1);
        d[u][t] = __ldg(xd + tt * chunks + c);
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (c0 + 32 * u >= chunks) break;
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const uint32_t* wv = reinterpret_cast<const uint32_t*>(&w[u][r][0]);
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          const int xw[8] = {xa[u][t].x, xa[u][t].y, xa[u][t].z, xa[u][t].w, xb[u][t].x, xb[u][t].y, xb[u][t].z, xb[u][t].w};
          int i1 = 0;
          if constexpr (BITS == 4) {
#pragma unroll
            for (int j = 0; j < 4; ++j) {
              const int lo = int(wv[j] & 0x0F0F0F0Fu), hi = int((wv[j] >> 4) & 0x0F0F0F0Fu);
              i1 = __dp4a(lo, xw[2 * j], i1);
              i1 = __dp4a(hi, xw[2 * j + 1], i1);
            }
          } else {
#pragma unroll
            for (int j = 0; j < 8; ++j) i1 = dp4a_us(wv[j], xw[j], i1);
          }
          acc[r][t] += s[u][r] * (d[u][t].x * float(i1)) + b[u][r] * d[u][t].y;
        }
      }
    }
  }
  if (!waited) griddep_wait();
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = warp_sum(acc[r][t]);
  if (lane == 0 && active)
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      if (t >= n) break;
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const int64_t row = r0 + r;
        if (row >= m.rows) break;
        y[t * y_stride + row] = acc[r][t] + (m.bias ? m.bias[row] : 0.0f);
      }
    }
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

template <int BITS>
void launch_dp4a_bits(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y, int64_t ys,
                      cudaStream_t st) {
  if (m.scale_bytes == 4) launch_dp4a<BITS, 2>(m, xq, xd, n, y, ys, st);
  else if (m.scales_f16) launch_dp4a<BITS, 1>(m, xq, xd, n, y, ys, st);
  else launch_dp4a<BITS, 0>(m, xq, xd, n, y, ys, st);
}

}  // namespace

bool dp4a_eligible(const DevMatrix& m) {
  return m.kind == MatrixPlan::Kind::Affine && (m.bits == 4 || m.bits == 8) && m.group % 32 == 0 && m.cols % 32 == 0;
}

void gemv_int8(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y, int64_t y_stride,
               cudaStream_t st) {
  if (m.bits == 4) launch_dp4a_bits<4>(m, xq, xd, n, y, y_stride, st);
  else launch_dp4a_bits<8>(m, xq, xd, n, y, y_stride, st);
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
