// The int8 tensor-core product for decode passes of 32 rows or more: 4-bit affine weights
// (codes as unsigned bytes) against the int8 activation blocks of the dp4a kernel, one
// mma.m16n8k32 per 32-value chunk, so that the MMA's int32 result is exactly the chunk's
// sum that dp4a computes. Each chunk's term and each slice's sum then follow the order of
// gemv_rows.cuh: a token's outputs are the same bits as the dp4a kernel's, which is what
// lets a decode pass take this kernel from 32 rows on and keep every sequence's logits the
// same alone and in any batch.
//
// A tile of 64 weight rows × 32 tokens belongs to a cluster of four blocks of eight warps:
// warp w of block z owns slice 8z + w, so every slice's chunks (p, p + 32, ...) are added
// by one warp in order, into its own accumulators. The blocks walk the chunks in stripes of
// 32: stripe i brings block z its chunks 32i + 8z .. 32i + 8z + 7, which are 128 contiguous
// bytes of every weight row and 256 of every token's activations, copied asynchronously
// into shared memory several stripes ahead (cp.async), so that the weights stream at HBM
// speed and each block reads every weight and activation once. The slices' pairwise tree
// is then summed through shared memory within a block (levels 1-3) and through the
// cluster's distributed shared memory across blocks (levels 4-5), with no partial sums in
// global memory. Clusters need sm_90: older GPUs take the dp4a tiles (the same bits).
//
// MMA fragments: the weight rows are the MMA's M dimension, the tokens its N. A lane's A
// fragment for a chunk is word t of rows g and g + 8 (8 codes each, the split-nibble layout
// of DevMatrix): the low nibbles are k = 4t..4t+3 and the high ones k = 16+4t..; its B
// fragment is the activation bytes 8t..8t+7 of token g, which are the same values in that
// order. So no repacking: the weights and activations are the dp4a kernel's bytes.
#include <cooperative_groups.h>

#include "backend/cuda/gemv.cuh"
#include "backend/cuda/gemv_rows.cuh"

namespace mlxcpp::cuda {
namespace {

constexpr int kWarps = 8;                  // one slice each
constexpr int kClusterCtas = 32 / kWarps;  // the 32 slices of a tile
constexpr int kRowTiles = 4, kTokenTiles = 4;
constexpr int kBlockRows = kRowTiles * 16, kBlockTokens = kTokenTiles * 8;
constexpr int kThreads = kWarps * 32;
constexpr int kStages = 4;  // stripes in flight: ~2 × 3 × 8 KB of weights an SM
constexpr int kAccs = kRowTiles * kTokenTiles * 4;

// One stripe's chunks of a block (chunk j is warp j's).
struct Stage {
  uint4 w[kWarps][kBlockRows];       // 32 codes (16 bytes) a row
  uint4 x[kWarps][kBlockTokens][2];  // 32 int8 activations a token
  float2 d[kWarps][kBlockTokens];    // the activation blocks' (dx, dx·Σq)
  float2 sb[kWarps][kBlockRows];     // the weights' (scale, bias)
};
constexpr int kNodeStride = kBlockRows + 4;  // conflict-free fragment stores
struct Epilogue {
  float pending[kWarps / 2][kAccs][32];   // the block's tree: right-hand nodes
  float node[kBlockTokens][kNodeStride];  // the block's node, read by the cluster
};
constexpr size_t kSmem = sizeof(Stage) * kStages > sizeof(Epilogue) ? sizeof(Stage) * kStages : sizeof(Epilogue);

__device__ __forceinline__ void copy_async16(void* to, const void* from) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(unsigned(__cvta_generic_to_shared(to))), "l"(from));
}
__device__ __forceinline__ void copy_async8(void* to, const void* from) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(unsigned(__cvta_generic_to_shared(to))), "l"(from));
}
__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;"); }
template <int Pending>
__device__ __forceinline__ void copy_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(Pending));
}

__device__ __forceinline__ void mma_u8s8(const uint32_t a[4], uint32_t b0, uint32_t b1, int c[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%10,%10,%10};"
      : "=r"(c[0]), "=r"(c[1]), "=r"(c[2]), "=r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(0));
}

// Chunk j of this block's slices, one thread's shares of it: weight pieces and
// scale/bias pairs 2 a thread (row tid / 8 and + 32, chunk tid % 8), activation pieces 2
// (token tid / 16 and + 16, chunk (tid / 2) % 8, half tid % 2), block constants 1 (token
// tid / 8, chunk tid % 8). Rows and tokens past the end read the last one (dropped at the
// store); chunks past the end read the last chunk (their warp skips them).
template <int SCALE>
struct StripeLoader {
  const uint8_t* wrow[2];
  int64_t srow[2];
  const int8_t* xtok[2];
  const float2* dtok;
  int chunks, group_shift, wj, xj, dj;

  __device__ StripeLoader(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, int64_t r0, int n0) {
    const int tid = int(threadIdx.x);
    chunks = int(m.cols >> 5), group_shift = m.group_shift;
    wj = tid & 7, xj = (tid >> 1) & 7, dj = tid & 7;
    for (int h = 0; h < 2; ++h) {
      const int64_t row = min(r0 + (tid >> 3) + 32 * h, m.rows - 1);
      wrow[h] = m.data + row * m.bytes_per_row;
      srow[h] = row * m.groups_per_row;
      xtok[h] = xq + int64_t(min(n0 + (tid >> 4) + 16 * h, n - 1)) * m.cols + 16 * (tid & 1);
    }
    dtok = xd + int64_t(min(n0 + (tid >> 3), n - 1)) * chunks;
  }
  __device__ int chunk(int first, int j) const { return min(first + j, chunks - 1); }

  __device__ void weights(int first, Stage& s) const {
    const int c = chunk(first, wj);
    for (int h = 0; h < 2; ++h) copy_async16(&s.w[wj][(threadIdx.x >> 3) + 32 * h], wrow[h] + int64_t(c) * 16);
  }
  __device__ void activations(int first, Stage& s) const {
    const int c = chunk(first, xj);
    for (int h = 0; h < 2; ++h)
      copy_async16(&s.x[xj][(threadIdx.x >> 4) + 16 * h][threadIdx.x & 1], xtok[h] + int64_t(c) * 32);
    copy_async8(&s.d[dj][threadIdx.x >> 3], dtok + chunk(first, dj));
  }
  __device__ void scales(const DevMatrix& m, int first, float2 v[2]) const {
    const int64_t gi = int64_t(chunk(first, wj)) << 5 >> group_shift;
    for (int h = 0; h < 2; ++h)
      v[h] = make_float2(scale_at<SCALE>(m.scales, srow[h] + gi), scale_at<SCALE>(m.biases, srow[h] + gi));
  }
  __device__ void store_scales(Stage& s, const float2 v[2]) const {
    for (int h = 0; h < 2; ++h) s.sb[wj][(threadIdx.x >> 3) + 32 * h] = v[h];
  }
};

// Warp w's chunk of a stripe into its slice's accumulators, in the dp4a kernel's order.
__device__ __forceinline__ void multiply_chunk(const Stage& s, int w, int g, int t, float acc[kAccs]) {
  uint2 xb[kTokenTiles];
  float4 dd[kTokenTiles];
#pragma unroll
  for (int nt = 0; nt < kTokenTiles; ++nt) {
    xb[nt] = reinterpret_cast<const uint2*>(&s.x[w][8 * nt + g][0])[t];
    dd[nt] = *reinterpret_cast<const float4*>(&s.d[w][8 * nt + 2 * t]);
  }
#pragma unroll
  for (int mt = 0; mt < kRowTiles; ++mt) {
    const uint32_t wa = reinterpret_cast<const uint32_t*>(&s.w[w][16 * mt + g])[t];
    const uint32_t wb = reinterpret_cast<const uint32_t*>(&s.w[w][16 * mt + g + 8])[t];
    const float2 sb[2] = {s.sb[w][16 * mt + g], s.sb[w][16 * mt + g + 8]};
    const uint32_t a[4] = {wa & 0x0F0F0F0Fu, wb & 0x0F0F0F0Fu, (wa >> 4) & 0x0F0F0F0Fu, (wb >> 4) & 0x0F0F0F0Fu};
#pragma unroll
    for (int nt = 0; nt < kTokenTiles; ++nt) {
      int c[4];
      mma_u8s8(a, xb[nt].x, xb[nt].y, c);
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const float2 d = k & 1 ? make_float2(dd[nt].z, dd[nt].w) : make_float2(dd[nt].x, dd[nt].y);
        float& a_ = acc[(mt * kTokenTiles + nt) * 4 + k];
        a_ = add_chunk(a_, sb[k >> 1].x, sb[k >> 1].y, d, c[k]);
      }
    }
  }
}

template <int SCALE>
__global__ void __launch_bounds__(kThreads, 2)
    gemm_int8_q4(DevMatrix m, const int8_t* xq, const float2* xd, int n, float* y, int64_t y_stride) {
  griddep_launch_dependents();
  extern __shared__ __align__(16) unsigned char smem[];
  Stage* stage = reinterpret_cast<Stage*>(smem);
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5, g = lane >> 2, t = lane & 3;
  const int64_t r0 = int64_t(blockIdx.y) * kBlockRows;
  const int n0 = int(blockIdx.x) * kBlockTokens;
  const int chunks = int(m.cols >> 5), slice0 = int(blockIdx.z) * kWarps;
  const int stripes = chunks > slice0 ? (chunks - slice0 + 31) / 32 : 0;
  const StripeLoader<SCALE> load(m, xq, xd, n, r0, n0);

  // The first stripes' weights before the wait for the previous kernel (they are
  // constant), their activations (its output) after.
  for (int i = 0; i < kStages - 1 && i < stripes; ++i) {
    load.weights(slice0 + 32 * i, stage[i]);
    float2 v[2];
    load.scales(m, slice0 + 32 * i, v);
    load.store_scales(stage[i], v);
  }
  griddep_wait();
  for (int i = 0; i < kStages - 1; ++i) {
    if (i < stripes) load.activations(slice0 + 32 * i, stage[i]);
    copy_async_commit();
  }

  float acc[kAccs];
#pragma unroll
  for (int k = 0; k < kAccs; ++k) acc[k] = 0.0f;
  for (int i = 0; i < stripes; ++i) {
    copy_async_wait<kStages - 2>();
    __syncthreads();  // stripe i is in; stripe i - 1's buffer is free
    const int ahead = i + kStages - 1;
    float2 v[2];
    if (ahead < stripes) {
      Stage& next = stage[ahead % kStages];
      load.weights(slice0 + 32 * ahead, next);
      load.activations(slice0 + 32 * ahead, next);
      load.scales(m, slice0 + 32 * ahead, v);
    }
    copy_async_commit();
    if (slice0 + 32 * i + warp < chunks) multiply_chunk(stage[i % kStages], warp, g, t, acc);
    if (ahead < stripes) load.store_scales(stage[ahead % kStages], v);
  }
  copy_async_wait<0>();
  __syncthreads();

  // The block's slices, pairwise: warp w + level's node into warp w's.
  Epilogue& e = *reinterpret_cast<Epilogue*>(smem);
  for (int level = 1; level < kWarps; level <<= 1) {
    if (warp % (2 * level) == level)
#pragma unroll
      for (int k = 0; k < kAccs; ++k) e.pending[warp >> 1][k][lane] = acc[k];
    __syncthreads();
    if (warp % (2 * level) == 0)
#pragma unroll
      for (int k = 0; k < kAccs; ++k) acc[k] = __fadd_rn(acc[k], e.pending[(warp + level) >> 1][k][lane]);
    __syncthreads();
  }
  if (warp == 0)
#pragma unroll
    for (int k = 0; k < kAccs; ++k) {
      const int mt = k / (kTokenTiles * 4), nt = (k / 4) % kTokenTiles;
      e.node[8 * nt + 2 * t + (k & 1)][16 * mt + g + 8 * ((k >> 1) & 1)] = acc[k];
    }

    // The cluster's four nodes, ((n0 + n1) + (n2 + n3)), then the bias: block z finishes
    // tokens 8z .. 8z + 7 of the tile.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  auto cluster = cooperative_groups::this_cluster();
  cluster.sync();
  const float* nodes[kClusterCtas];
  for (int r = 0; r < kClusterCtas; ++r) nodes[r] = cluster.map_shared_rank(&e.node[0][0], r);
  for (int o = int(threadIdx.x); o < 8 * kBlockRows; o += kThreads) {
    const int tok = int(blockIdx.z) * 8 + o / kBlockRows, row = o % kBlockRows;
    const int at = tok * kNodeStride + row;
    const float v = __fadd_rn(__fadd_rn(nodes[0][at], nodes[1][at]), __fadd_rn(nodes[2][at], nodes[3][at]));
    if (n0 + tok < n && r0 + row < m.rows)
      y[int64_t(n0 + tok) * y_stride + r0 + row] = v + (m.bias ? m.bias[r0 + row] : 0.0f);
  }
  cluster.sync();  // no block reads another's node after this: each may leave
#else
  __trap();  // not launched before sm_90 (int8_mma_eligible)
#endif
}

template <int SCALE>
void launch_int8(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y, int64_t ys, cudaStream_t st) {
  static const bool sized = [] {
    MLXCPP_CUDA_CHECK(
        cudaFuncSetAttribute(gemm_int8_q4<SCALE>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(kSmem)));
    return true;
  }();
  (void)sized;
  const dim3 grid(ceil_div(n, kBlockTokens), ceil_div(m.rows, kBlockRows), kClusterCtas);
  launch_clustered(gemm_int8_q4<SCALE>, grid, kThreads, kSmem, st, dim3(1, 1, kClusterCtas), m, xq, xd, n, y, ys);
}

}  // namespace

bool int8_mma_eligible(const DevMatrix& m) {
  return compute_major() >= 9 && m.kind == MatrixPlan::Kind::Affine && m.bits == 4 && m.nibbles_split &&
         m.group >= 64 && m.cols % 64 == 0;
}

void gemm_int8_mma(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y, int64_t y_stride,
                   cudaStream_t st) {
  with_dp4a_format(m, [&](auto, auto scale) { launch_int8<scale()>(m, xq, xd, n, y, y_stride, st); });
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

}  // namespace mlxcpp::cuda
