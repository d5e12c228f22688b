// Products of a decode pass's rows with 4-bit affine weights on tensor cores: the weights
// are dequantized in registers to the activations' 16-bit type (bf16, or f16 where the
// scales are f16), each pair with one mask, one subtraction and one fused multiply-add
// (q·s + b rounded once), and multiplied by mma.m16n8k16 with float32 accumulation.
// The weight rows are the MMA's M dimension and the tokens its N (8 per tile), so one
// token costs one 8-wide tile, and up to 64 tokens share every weight load.
//
// What bounds it is the activations' traffic, not the weights': every block reads the
// activations of its K range for all its tokens (from L2, then L1 for its other warps),
// n · K · 2 bytes per block against rows_per_block · K / 2 of weights. So a block is wide
// — kWarps warps × kTilesPerWarp 16-row tiles = 256 rows, each activation fragment feeding
// kTilesPerWarp MMAs — and, to give every SM blocks when a matrix has few rows, K is split
// over the grid's z (split-K): each split writes its partial sums, and a second kernel
// adds the splits in order. (The first version, 32 rows per block with K split inside the
// block, read 8× more activation bytes than weight bytes: 12-18 % of DRAM bandwidth.)
//
// Batch invariance (within this path): a token's outputs are its own MMA column, computed
// by the same instructions in the same order whatever the number of tokens, the tile it
// sits in or its column within it; the number of splits depends on the matrix's shape and
// the GPU, never on the tokens, and the splits are added in order. So a sequence's results
// are the same bits at any batch size that takes this path.
//
// The MMA's K order is free as long as weights and activations agree: a lane's 32-bit
// weight word holds elements 0-3 in its bytes' low nibbles and 4-7 in the high ones (the
// split-nibble layout of DevMatrix, shared with the dp4a kernel); masking bits 0-3 and
// 16-19 gives elements (0, 2), and shifts of 4, 8, 12 give (4, 6), (1, 3), (5, 7). The
// activations are converted once per product into bf16/f16 with each 8 values stored in
// that order (0, 2, 4, 6, 1, 3, 5, 7), so one 16-byte load is a lane's B fragments for
// two MMA steps.
#include "backend/cuda/gemv.cuh"
#include "backend/cuda/mma_fragment.cuh"

namespace mlxcpp::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kTilesPerWarp = 2;  // 16-row tiles
constexpr int kThreads = kWarps * 32;
constexpr int kBlockRows = kWarps * kTilesPerWarp * 16;
constexpr int kUnroll = 2;  // 128-value blocks loaded before any is used (decode streams weights)
// Two blocks an SM (at most 128 registers a thread): one block's 8 warps cannot hide the
// loads' latency.
constexpr int kBlocksPerSm = 2;

template <bool F16>
__device__ __forceinline__ void mma16816(const uint32_t a[4], uint32_t b0, uint32_t b1, float c[4]) {
  if constexpr (F16)
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two 4-bit codes (bits shift..shift+3 and shift+16..shift+19 of w) → q·s + b, as a pair
// of 16-bit values. The codes become the exact values 128 + q (bf16) or 1024 + q (f16) by
// OR-ing in an exponent; subtracting that bias is exact, and the fused multiply-add
// rounds once.
template <bool F16>
__device__ __forceinline__ uint32_t dequant_pair(uint32_t w, int shift, uint32_t s2, uint32_t b2) {
  const uint32_t v = ((w >> shift) & 0x000F000Fu) | (F16 ? 0x64006400u : 0x43004300u);
  uint32_t r;
  if constexpr (F16) {
    const __half2 q = __hsub2(*reinterpret_cast<const __half2*>(&v), __half2(__ushort_as_half(0x6400), __ushort_as_half(0x6400)));
    const __half2 o = __hfma2(q, *reinterpret_cast<const __half2*>(&s2), *reinterpret_cast<const __half2*>(&b2));
    r = *reinterpret_cast<const uint32_t*>(&o);
  } else {
    const __nv_bfloat162 bias = __nv_bfloat162(__ushort_as_bfloat16(0x4300), __ushort_as_bfloat16(0x4300));
    const __nv_bfloat162 q = __hsub2(*reinterpret_cast<const __nv_bfloat162*>(&v), bias);
    const __nv_bfloat162 o =
        __hfma2(q, *reinterpret_cast<const __nv_bfloat162*>(&s2), *reinterpret_cast<const __nv_bfloat162*>(&b2));
    r = *reinterpret_cast<const uint32_t*>(&o);
  }
  return r;
}

__device__ __forceinline__ uint32_t splat16(uint16_t v) { return uint32_t(v) | (uint32_t(v) << 16); }

// A block: kWarps warps of kTilesPerWarp 16-row tiles, NT tiles of 8 tokens starting at
// token blockIdx.x · NT · 8, the K blocks [z · chunk, (z + 1) · chunk) for z = blockIdx.z.
// The token tiles are the grid's fastest dimension: the blocks that read the same weights
// run together, and all but the first find them in L2.
// Its sums go to y (one split) or to partial[z][token][row].
template <bool F16, int NT>
__global__ void __launch_bounds__(kThreads, kBlocksPerSm) gemm_tc_q4(DevMatrix m, const uint4* xh, int n, float* y, int64_t y_stride,
                                                        int chunk, float* partial) {
  griddep_launch_dependents();
  constexpr int R = kTilesPerWarp, U = NT <= 2 ? kUnroll : 1;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int64_t r0 = (int64_t(blockIdx.y) * kWarps + warp) * R * 16;
  const int n0 = int(blockIdx.x) * NT * 8;
  const int kblocks = int(m.cols >> 7);
  const int kb_begin = int(blockIdx.z) * chunk, kb_end = min(kblocks, kb_begin + chunk);
  const int64_t units_per_row = m.cols >> 3;  // 16-byte units of activations per token row
  // This lane's rows in each tile, g and g + 8 (a row past the end reads the last one;
  // dropped below), each 64 bytes per 128-value block: lane t's 16 bytes are values
  // 32t .. 32t + 31.
  // (32-bit offsets: registers are what bounds this kernel's occupancy.)
  uint32_t woff[R][2], soff[R][2];
#pragma unroll
  for (int i = 0; i < R; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t row = min(r0 + 16 * i + g + 8 * h, m.rows - 1);
      woff[i][h] = uint32_t(row * (m.bytes_per_row >> 4) + t);
      soff[i][h] = uint32_t(row * m.groups_per_row);
    }
  const uint4* wdata = reinterpret_cast<const uint4*>(m.data);
  const uint16_t* scales = reinterpret_cast<const uint16_t*>(m.scales);
  const uint16_t* biases = reinterpret_cast<const uint16_t*>(m.biases);
  // The token of this lane's B fragments in each tile: column g (past n: the last token,
  // whose results are dropped).
  uint32_t xoff[NT];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) xoff[nt] = uint32_t(min(n0 + nt * 8 + g, n - 1) * units_per_row + t);

  float acc[R][NT][4];
#pragma unroll
  for (int i = 0; i < R; ++i)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int k = 0; k < 4; ++k) acc[i][nt][k] = 0.0f;

  bool waited = false;
  for (int kb0 = kb_begin; kb0 < kb_end; kb0 += U) {
    uint4 q[U][R][2];
    uint32_t s2[U][R][2], b2[U][R][2];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int kb = min(kb0 + u, kb_end - 1);  // past the end: a valid address, unused
      const int64_t gi = ((int64_t(kb) << 7) + 32 * t) >> m.group_shift;
#pragma unroll
      for (int i = 0; i < R; ++i)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          q[u][i][h] = __ldg(wdata + woff[i][h] + uint32_t(kb) * 4);
          s2[u][i][h] = splat16(__ldg(scales + soff[i][h] + gi));
          b2[u][i][h] = splat16(__ldg(biases + soff[i][h] + gi));
        }
    }
    if (!waited) {  // the activations are the previous kernel's output
      griddep_wait();
      waited = true;
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int kb = kb0 + u;
      if (kb >= kb_end) break;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        uint4 xv[NT];
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) xv[nt] = __ldg(xh + xoff[nt] + uint32_t(kb) * 16 + 4 * j);
#pragma unroll
        for (int i = 0; i < R; ++i) {
          const uint32_t wa = (&q[u][i][0].x)[j], wb = (&q[u][i][1].x)[j];
          const uint32_t sa = s2[u][i][0], ba = b2[u][i][0], sb = s2[u][i][1], bb = b2[u][i][1];
          const uint32_t a0[4] = {dequant_pair<F16>(wa, 0, sa, ba), dequant_pair<F16>(wb, 0, sb, bb),
                                  dequant_pair<F16>(wa, 4, sa, ba), dequant_pair<F16>(wb, 4, sb, bb)};
          const uint32_t a1[4] = {dequant_pair<F16>(wa, 8, sa, ba), dequant_pair<F16>(wb, 8, sb, bb),
                                  dequant_pair<F16>(wa, 12, sa, ba), dequant_pair<F16>(wb, 12, sb, bb)};
#pragma unroll
          for (int nt = 0; nt < NT; ++nt) {
            mma16816<F16>(a0, xv[nt].x, xv[nt].y, acc[i][nt]);
            mma16816<F16>(a1, xv[nt].z, xv[nt].w, acc[i][nt]);
          }
        }
      }
    }
  }
  if (!waited) griddep_wait();
  const FragmentOut out(m, y, y_stride, partial, n);
#pragma unroll
  for (int i = 0; i < R; ++i)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int k = 0; k < 4; ++k) out.store(r0 + 16 * i, n0 + nt * 8, g, t, k, acc[i][nt][k]);
}

// The splits' partial sums added in split order (and the bias).
__global__ void add_splits(const float* partial, int splits, int n, int64_t rows, const float* bias, float* y,
                           int64_t y_stride) {
  griddep_wait();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(n) * rows) return;
  const int64_t tok = i / rows, row = i % rows;
  float sum = partial[i];
  for (int z = 1; z < splits; ++z) sum += partial[int64_t(z) * n * rows + i];
  y[tok * y_stride + row] = sum + (bias ? bias[row] : 0.0f);
}

// x (n rows of float32) → 16-bit, each 8 values stored as (0, 2, 4, 6, 1, 3, 5, 7).
template <bool F16>
__global__ void to_mma_order(const float* x, int64_t units, uint4* out) {
  griddep_wait();
  const int64_t u = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (u >= units) return;
  const float4 a = __ldg(reinterpret_cast<const float4*>(x) + 2 * u);
  const float4 b = __ldg(reinterpret_cast<const float4*>(x) + 2 * u + 1);
  auto pack = [](float lo, float hi) -> uint32_t {
    if constexpr (F16) {
      const __half2 h = __floats2half2_rn(lo, hi);
      return *reinterpret_cast<const uint32_t*>(&h);
    } else {
      const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
      return *reinterpret_cast<const uint32_t*>(&h);
    }
  };
  // Lane t's four units of a 128-value block (values 32t .. 32t + 31, read one per MMA step
  // j) are stored j-major, so that the four lanes of a token read 64 contiguous bytes at
  // each step.
  const int64_t w = u & 15, at = (u - w) + 4 * (w & 3) + (w >> 2);
  out[at] = make_uint4(pack(a.x, a.z), pack(b.x, b.z), pack(a.y, a.w), pack(b.y, b.w));
}

template <bool F16, int NT>
void launch_tc(const DevMatrix& m, const uint4* xh, int n, float* y, int64_t ys, int splits, int chunk, float* partial,
               cudaStream_t st) {
  const dim3 grid(ceil_div(n, NT * 8), ceil_div(m.rows, kBlockRows), unsigned(splits));
  launch(gemm_tc_q4<F16, NT>, grid, kThreads, 0, st, m, xh, n, y, ys, chunk, partial);
}

// Up to 32 tokens in one tile column; more in several (a token's column is computed the
// same way in any of them).
template <bool F16>
void launch_tc_tokens(const DevMatrix& m, const uint4* xh, int n, float* y, int64_t ys, int splits, int chunk,
                      float* partial, cudaStream_t st) {
  if (n <= 8) launch_tc<F16, 1>(m, xh, n, y, ys, splits, chunk, partial, st);
  else if (n <= 16) launch_tc<F16, 2>(m, xh, n, y, ys, splits, chunk, partial, st);
  else launch_tc<F16, 4>(m, xh, n, y, ys, splits, chunk, partial, st);
}

// K blocks per split: enough splits that the grid has two blocks per SM, each split at
// least two K blocks long.
int split_chunk(int64_t rows, int64_t cols) {
  const int sms = sm_count();
  const int64_t kblocks = cols >> 7, row_blocks = ceil_div(rows, kBlockRows);
  const int64_t wanted = std::max<int64_t>(1, ceil_div(2 * sms, row_blocks));
  return int(std::max<int64_t>(std::min<int64_t>(kblocks, 2), ceil_div(kblocks, wanted)));
}

}  // namespace

bool tensor_core_eligible(const DevMatrix& m) {
  return m.kind == MatrixPlan::Kind::Affine && m.bits == 4 && m.nibbles_split && m.scale_bytes == 2 &&
         m.group >= 32 && m.cols % 128 == 0;
}

int64_t tensor_core_partial_elems(int64_t rows, int64_t cols, int n) {
  const int64_t splits = ceil_div(cols >> 7, split_chunk(rows, cols));
  return splits > 1 ? splits * n * rows : 0;
}

void gemm_tensor_cores(const DevMatrix& m, const float* x, int n, float* y, int64_t y_stride, MatmulScratch& s,
                       cudaStream_t st) {
  const int64_t units = int64_t(n) * m.cols / 8;
  if (int64_t(n) * m.cols > s.x_elems) throw std::runtime_error("matmul: activation scratch too small");
  const int chunk = split_chunk(m.rows, m.cols);
  const int splits = int(ceil_div(m.cols >> 7, chunk));
  if (tensor_core_partial_elems(m.rows, m.cols, n) > s.tc_partial_elems)
    throw std::runtime_error("matmul: split-K scratch too small");
  uint4* xh = static_cast<uint4*>(s.xconv);
  if (m.scales_f16) {
    launch(to_mma_order<true>, ceil_div(units, 256), 256, 0, st, x, units, xh);
    launch_tc_tokens<true>(m, xh, n, y, y_stride, splits, chunk, s.tc_partial, st);
  } else {
    launch(to_mma_order<false>, ceil_div(units, 256), 256, 0, st, x, units, xh);
    launch_tc_tokens<false>(m, xh, n, y, y_stride, splits, chunk, s.tc_partial, st);
  }
  if (splits > 1)
    launch(add_splits, ceil_div(int64_t(n) * m.rows, 256), 256, 0, st, s.tc_partial, splits, n, m.rows, m.bias, y, y_stride);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

}  // namespace mlxcpp::cuda
