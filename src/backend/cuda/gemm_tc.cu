// Products of a decode pass's rows with 4-bit affine weights on tensor cores: the weights
// are dequantized in registers to the activations' 16-bit type (bf16, or f16 where the
// scales are f16), each pair with one mask, one subtraction and one fused multiply-add
// (q·s + b rounded once), and multiplied by mma.m16n8k16 with float32 accumulation.
// The weight rows are the MMA's M dimension (16 per warp) and the tokens its N (8 per
// tile), so one token costs one 8-wide tile, and up to 64 tokens share every weight load.
//
// Batch invariance: a token's outputs are its own MMA column, computed by the same
// instructions in the same order whatever the number of tokens, the tile it sits in or
// its column within it: a warp adds its K slice's 128-value blocks in order, and a
// block's KS slices are added in a fixed tree. So a sequence's results are the same bits
// alone or in any batch.
//
// The MMA's K order is free as long as weights and activations agree: a lane's 32-bit
// weight word holds elements 0-3 in its bytes' low nibbles and 4-7 in the high ones (the
// split-nibble layout of DevMatrix, shared with the dp4a kernel); masking bits 0-3 and
// 16-19 gives elements (0, 2), and shifts of 4, 8, 12 give (4, 6), (1, 3), (5, 7). The
// activations are converted once per product into bf16/f16 with each 8 values stored in
// that order (0, 2, 4, 6, 1, 3, 5, 7), so one 16-byte load is a lane's B fragments for
// two MMA steps.
#include "backend/cuda/gemv.cuh"

namespace mlxcpp::cuda {
namespace {

constexpr int kRowTiles = 2;  // 16-row tiles per block
constexpr int kSlices = 4;    // warps per row tile, one K slice each
constexpr int kThreads = kRowTiles * kSlices * 32;

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

// A block: kRowTiles 16-row tiles × kSlices K slices (one warp each), NT tiles of 8 tokens
// starting at token blockIdx.y · NT · 8. U 128-value blocks are loaded before any is used
// (memory-level parallelism: decode streams weights).
template <bool F16, int NT, int U>
__global__ void __launch_bounds__(kThreads) gemm_tc_q4(DevMatrix m, const uint4* xh, int n, float* y,
                                                        int64_t y_stride) {
  griddep_launch_dependents();
  __shared__ float partial[kRowTiles][kSlices - 1][32][NT * 4];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int tile = warp / kSlices, slice = warp % kSlices;
  const int64_t r0 = (int64_t(blockIdx.x) * kRowTiles + tile) * 16;
  const int n0 = int(blockIdx.y) * NT * 8;
  const int kblocks = int(m.cols >> 7);
  const int64_t units_per_row = m.cols >> 3;  // 16-byte units of activations per token row
  // This lane's two weight rows (a row past the end reads the last one; dropped below),
  // each 64 bytes per 128-value block: lane t's 16 bytes are values 32t .. 32t + 31.
  const int64_t ra = min(r0 + g, m.rows - 1), rb = min(r0 + g + 8, m.rows - 1);
  const uint4* wa = reinterpret_cast<const uint4*>(m.data + ra * m.bytes_per_row) + t;
  const uint4* wb = reinterpret_cast<const uint4*>(m.data + rb * m.bytes_per_row) + t;
  const uint16_t* sa = reinterpret_cast<const uint16_t*>(m.scales) + ra * m.groups_per_row;
  const uint16_t* sb = reinterpret_cast<const uint16_t*>(m.scales) + rb * m.groups_per_row;
  const uint16_t* ba = reinterpret_cast<const uint16_t*>(m.biases) + ra * m.groups_per_row;
  const uint16_t* bb = reinterpret_cast<const uint16_t*>(m.biases) + rb * m.groups_per_row;
  // The token of this lane's B fragments in each tile: column g (past n: the last token,
  // whose results are dropped).
  const uint4* xp[NT];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) xp[nt] = xh + int64_t(min(n0 + nt * 8 + g, n - 1)) * units_per_row + 4 * t;

  float acc[NT][4];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int k = 0; k < 4; ++k) acc[nt][k] = 0.0f;

  bool waited = false;
  for (int kb0 = slice; kb0 < kblocks; kb0 += kSlices * U) {
    uint4 qa[U], qb[U];
    uint32_t s2a[U], s2b[U], b2a[U], b2b[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int kb = min(kb0 + kSlices * u, kblocks - 1);  // past the end: a valid address, unused
      qa[u] = __ldg(wa + int64_t(kb) * 4);
      qb[u] = __ldg(wb + int64_t(kb) * 4);
      const int64_t gi = ((int64_t(kb) << 7) + 32 * t) >> m.group_shift;
      s2a[u] = splat16(__ldg(sa + gi)), b2a[u] = splat16(__ldg(ba + gi));
      s2b[u] = splat16(__ldg(sb + gi)), b2b[u] = splat16(__ldg(bb + gi));
    }
    if (!waited) {  // the activations are the previous kernel's output
      griddep_wait();
      waited = true;
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int kb = kb0 + kSlices * u;
      if (kb >= kblocks) break;
      const uint32_t wva[4] = {qa[u].x, qa[u].y, qa[u].z, qa[u].w};
      const uint32_t wvb[4] = {qb[u].x, qb[u].y, qb[u].z, qb[u].w};
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const uint32_t a0[4] = {dequant_pair<F16>(wva[j], 0, s2a[u], b2a[u]), dequant_pair<F16>(wvb[j], 0, s2b[u], b2b[u]),
                                dequant_pair<F16>(wva[j], 4, s2a[u], b2a[u]), dequant_pair<F16>(wvb[j], 4, s2b[u], b2b[u])};
        const uint32_t a1[4] = {dequant_pair<F16>(wva[j], 8, s2a[u], b2a[u]), dequant_pair<F16>(wvb[j], 8, s2b[u], b2b[u]),
                                dequant_pair<F16>(wva[j], 12, s2a[u], b2a[u]),
                                dequant_pair<F16>(wvb[j], 12, s2b[u], b2b[u])};
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
          const uint4 xv = __ldg(xp[nt] + int64_t(kb) * 16 + j);
          mma16816<F16>(a0, xv.x, xv.y, acc[nt]);
          mma16816<F16>(a1, xv.z, xv.w, acc[nt]);
        }
      }
    }
  }
  if (!waited) griddep_wait();
  // The slices' sums in a fixed tree: (0 + 1) + (2 + 3).
  static_assert(kSlices == 4, "the reduction tree below is written for 4 slices");
  if (slice > 0)
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
#pragma unroll
      for (int k = 0; k < 4; ++k) partial[tile][slice - 1][lane][nt * 4 + k] = acc[nt][k];
  __syncthreads();
  if (slice != 0) return;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float s01 = acc[nt][k] + partial[tile][0][lane][nt * 4 + k];
      const float s23 = partial[tile][1][lane][nt * 4 + k] + partial[tile][2][lane][nt * 4 + k];
      acc[nt][k] = s01 + s23;
    }
  // Outputs: c0, c1 are row g, tokens 2t and 2t + 1 of the tile; c2, c3 row g + 8.
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int64_t row = r0 + g + (k >> 1) * 8;
      const int tok = n0 + nt * 8 + 2 * t + (k & 1);
      if (row < m.rows && tok < n) y[int64_t(tok) * y_stride + row] = acc[nt][k] + (m.bias ? m.bias[row] : 0.0f);
    }
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
  out[u] = make_uint4(pack(a.x, a.z), pack(b.x, b.z), pack(a.y, a.w), pack(b.y, b.w));
}

template <bool F16, int NT>
void launch_tc(const DevMatrix& m, const uint4* xh, int n, float* y, int64_t ys, cudaStream_t st) {
  const dim3 grid(ceil_div(m.rows, 16 * kRowTiles), ceil_div(n, NT * 8));
  launch(gemm_tc_q4<F16, NT, 4>, grid, kThreads, 0, st, m, xh, n, y, ys);
}

template <bool F16>
void launch_tc_tokens(const DevMatrix& m, const uint4* xh, int n, float* y, int64_t ys, cudaStream_t st) {
  if (n <= 8) launch_tc<F16, 1>(m, xh, n, y, ys, st);
  else if (n <= 16) launch_tc<F16, 2>(m, xh, n, y, ys, st);
  else if (n <= 32) launch_tc<F16, 4>(m, xh, n, y, ys, st);
  else launch_tc<F16, 8>(m, xh, n, y, ys, st);
}

}  // namespace

bool tensor_core_eligible(const DevMatrix& m) {
  return m.kind == MatrixPlan::Kind::Affine && m.bits == 4 && m.nibbles_split && m.scale_bytes == 2 &&
         m.group >= 32 && m.cols % 128 == 0;
}

void gemm_tensor_cores(const DevMatrix& m, const float* x, int n, float* y, int64_t y_stride, void* scratch,
                       int64_t scratch_elems, cudaStream_t st) {
  const int64_t units = int64_t(n) * m.cols / 8;
  if (int64_t(n) * m.cols > scratch_elems) throw std::runtime_error("matmul: activation scratch too small");
  uint4* xh = static_cast<uint4*>(scratch);
  if (m.scales_f16) {
    launch(to_mma_order<true>, ceil_div(units, 256), 256, 0, st, x, units, xh);
    launch_tc_tokens<true>(m, xh, n, y, y_stride, st);
  } else {
    launch(to_mma_order<false>, ceil_div(units, 256), 256, 0, st, x, units, xh);
    launch_tc_tokens<false>(m, xh, n, y, y_stride, st);
  }
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

}  // namespace mlxcpp::cuda
