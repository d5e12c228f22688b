// The dp4a matrix-vector rows shared by the dense decode products (gemv.cu) and the experts
// of a mixture (moe.cu): affine 4- and 8-bit weights against int8 activations.
//
// The order of addition of every int8 decode product (these rows and the tensor-core
// kernel of gemm_int8.cu), which makes a token's outputs the same bits whichever kernel
// computes them, so that the product can change kernel with the batch size and a sequence
// still gets the same logits alone and in any batch:
//  - chunk c (32 values, one activation block) gives the exact int32 sum i of its codes'
//    products, and its term is added to its slice's sum by add_chunk (fixed roundings);
//  - slice p (0 <= p < 32) holds the chunks c = p, p + 32, p + 64, ..., added in that order
//    to a sum that starts at 0;
//  - the 32 slice sums are added as a pairwise tree of neighbours ((s0 + s1) + (s2 + s3))
//    + ..., slice_tree_sum over a warp's lanes, then the linear bias (or 0).
// A warp of these rows gives each lane a slice; the tensor-core kernel takes the slices in
// pairs, one after the other, and keeps the tree's pending nodes.
#pragma once

#include <type_traits>

#include "backend/cuda/kernels.cuh"

namespace mlxcpp::cuda {

__device__ __forceinline__ int dp4a_us(uint32_t a, int b, int c) {
  int d;
  asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
  return d;
}

// acc + s·(dx·i) + b·(dx·Σq): chunk c's term (weights' scale s and bias b; the activation
// block's d = (dx, dx·Σq), i = the int32 sum of code products), with each rounding fixed
// (no contraction left to the compiler). |i| < 2^21 (32 products of at most 255 · 128), so
// i converts exactly by adding it to the mantissa of 1.5 · 2^23: an integer add and a float
// subtract, where the conversion instruction runs at an eighth of the float rate.
__device__ __forceinline__ float add_chunk(float acc, float s, float b, float2 d, int i) {
  const float fi = __fsub_rn(__int_as_float(0x4B400000 + i), 12582912.0f);
  return __fmaf_rn(s, __fmul_rn(d.x, fi), __fmaf_rn(b, d.y, acc));
}

// The slices' pairwise tree over a warp (lane p holds slice p); every lane gets the sum.
__device__ __forceinline__ float slice_tree_sum(float v) {
  for (int o = 1; o < 32; o <<= 1) v = __fadd_rn(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

template <int SCALE>  // 0: bf16, 1: f16, 2: f32
__device__ __forceinline__ float scale_at(const uint8_t* p, int64_t i) {
  if constexpr (SCALE == 2) return __ldg(reinterpret_cast<const float*>(p) + i);
  const uint16_t b = __ldg(reinterpret_cast<const unsigned short*>(p) + i);
  return SCALE == 1 ? f16_bits_to_f32(b) : bf16_bits_to_f32(b);
}

// f(bits, scale) with a dp4a format's template arguments as integral constants (4 or 8
// bits; scales f32 = 2, f16 = 1, bf16 = 0): every dp4a launch dispatches through here.
template <typename F>
void with_dp4a_format(const DevMatrix& m, F&& f) {
  const auto by_scale = [&](auto bits) {
    if (m.scale_bytes == 4) f(bits, std::integral_constant<int, 2>{});
    else if (m.scales_f16) f(bits, std::integral_constant<int, 1>{});
    else f(bits, std::integral_constant<int, 0>{});
  };
  if (m.bits == 4) by_scale(std::integral_constant<int, 4>{});
  else by_scale(std::integral_constant<int, 8>{});
}

// Each warp computes R consecutive output rows (from r0) for n <= NT activation rows; lane
// p takes slice p's 32-value chunks (BITS 32-bit words each: 16 B at 4 bits, 32 B at 8), U at a
// time, all loaded before any is used so that enough bytes are in flight to cover the
// memory latency: decode is a pure stream of weights. The weights of the first chunks are
// requested before waiting for the previous kernel (programmatic dependent launch), unless
// the caller waited already (`waited`: which weights to read came from that kernel).
// (Running the residual norm that follows in the last block to finish, instead of its own
// kernel, measured 43 % slower: one block's serial tail plus a fence in every block.)
template <int BITS, int R, int NT, int SCALE, int U>
__device__ __forceinline__ void dp4a_rows(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y,
                                          int64_t y_stride, int64_t r0, bool waited) {
  constexpr int V = BITS / 4;  // 16-byte loads per chunk and row
  const int lane = threadIdx.x & 31;
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
          const int xw[8] = {xa[u][t].x, xa[u][t].y, xa[u][t].z, xa[u][t].w,
                             xb[u][t].x, xb[u][t].y, xb[u][t].z, xb[u][t].w};
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
          acc[r][t] = add_chunk(acc[r][t], s[u][r], b[u][r], d[u][t], i1);
        }
      }
    }
  }
  if (!waited) griddep_wait();
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int t = 0; t < NT; ++t) acc[r][t] = slice_tree_sum(acc[r][t]);
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

}  // namespace mlxcpp::cuda
