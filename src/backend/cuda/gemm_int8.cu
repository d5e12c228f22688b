// The int8 tensor-core product for decode passes of 32 rows or more: 4-bit affine weights
// (codes as unsigned bytes) against the int8 activation blocks of the dp4a kernel, one
// mma.m16n8k32 per 32-value chunk, so that the MMA's int32 result is exactly the chunk's
// sum that dp4a computes. Each chunk's term and each slice's sum then follow the order of
// gemv_rows.cuh: a token's outputs are the same bits as the dp4a kernel's, which is what
// lets a decode pass take this kernel from 32 rows on and keep every sequence's logits the
// same alone and in any batch.
//
// The weight rows are the MMA's M dimension (16 per tile, two tiles a warp), the tokens
// its N (8 per tile). A lane's A fragment for a chunk is word t of rows g and g + 8 (8
// codes each, the split-nibble layout of DevMatrix): the low nibbles are k = 4t..4t+3 and
// the high ones k = 16+4t..; its B fragment is the activation bytes 8t..8t+7 of token g,
// which are the same values in that order. So no repacking: the weights and activations
// are read as the dp4a kernel reads them.
//
// Order of work: slices in pairs (2q, 2q + 1), each pair's chunks 2q + 32i and 2q + 1 + 32i
// for increasing i (a group of 64 or more shares its scale over both). When a pair is done
// its node (s2q + s2q+1) joins the pairwise tree through a stack in shared memory (the
// binary counter of pairwise summation). Split-K over the grid's z takes aligned ranges of
// pairs, whose nodes are subtrees of the same tree: the splits change no bit.
#include <algorithm>

#include "backend/cuda/gemv.cuh"
#include "backend/cuda/gemv_rows.cuh"
#include "backend/cuda/mma_fragment.cuh"

namespace mlxcpp::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kRowTiles = 2;  // 16-row MMA tiles per warp
constexpr int kBlockRows = kWarps * kRowTiles * 16;
constexpr int kPairs = 16;  // slice pairs

__device__ __forceinline__ void mma_u8s8(const uint32_t a[4], uint32_t b0, uint32_t b1, int c[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%10,%10,%10};"
      : "=r"(c[0]), "=r"(c[1]), "=r"(c[2]), "=r"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(0));
}

// What a lane reads for one chunk pair: its weight words, scales and biases (per row tile
// and half), its tokens' activation words (per token tile and chunk) and block constants
// (per token tile and token of the lane's output pair: both chunks').
template <int NT>
struct PairLoads {
  uint32_t w[kRowTiles][2][2];  // [tile][row g / g + 8][chunk]
  float s[kRowTiles][2], b[kRowTiles][2];
  int2 x[NT][2];    // [token tile][chunk]
  float4 d[NT][2];  // [token tile][token 2t / 2t + 1]: (dx, dy) of both chunks
};

template <int NT, int SCALE>
__global__ void __launch_bounds__(kWarps * 32, 3)
    gemm_int8_q4(DevMatrix m, const int8_t* xq, const float2* xd, int n, float* y, int64_t y_stride,
                 int pairs_per_split, float* partial) {
  griddep_launch_dependents();
  constexpr int kOut = kRowTiles * NT * 4;      // a lane's outputs
  __shared__ float stack[kWarps][4][kOut][32];  // the tree's pending nodes, levels 1-4
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int64_t r0 = (int64_t(blockIdx.y) * kWarps + warp) * kRowTiles * 16;
  const int n0 = int(blockIdx.x) * NT * 8;
  const int chunks = int(m.cols >> 5);
  const int q_begin = int(blockIdx.z) * pairs_per_split;

  const uint32_t* words = reinterpret_cast<const uint32_t*>(m.data);
  const int64_t words_per_row = m.bytes_per_row >> 2;
  int64_t wrow[kRowTiles][2], srow[kRowTiles][2];
#pragma unroll
  for (int i = 0; i < kRowTiles; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t row = min(r0 + 16 * i + g + 8 * h, m.rows - 1);  // past the end: dropped below
      wrow[i][h] = row * words_per_row + t;
      srow[i][h] = row * m.groups_per_row;
    }
  const int8_t* xtok[NT];
  const float2* dtok[NT][2];
#pragma unroll
  for (int j = 0; j < NT; ++j) {
    xtok[j] = xq + int64_t(min(n0 + 8 * j + g, n - 1)) * m.cols + 8 * t;
#pragma unroll
    for (int e = 0; e < 2; ++e) dtok[j][e] = xd + int64_t(min(n0 + 8 * j + 2 * t + e, n - 1)) * chunks;
  }

  // Chunks c (even) and c + 1: the weights (constant: before the wait for the previous
  // kernel), then the activations (its output).
  auto load_weights = [&](int c, PairLoads<NT>& p) {
    const int64_t gi = int64_t(c) << 5 >> m.group_shift;
#pragma unroll
    for (int i = 0; i < kRowTiles; ++i)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        p.w[i][h][0] = __ldg(words + wrow[i][h] + int64_t(c) * 4);
        p.w[i][h][1] = __ldg(words + wrow[i][h] + int64_t(c) * 4 + 4);
        p.s[i][h] = scale_at<SCALE>(m.scales, srow[i][h] + gi);
        p.b[i][h] = scale_at<SCALE>(m.biases, srow[i][h] + gi);
      }
  };
  auto load_activations = [&](int c, PairLoads<NT>& p) {
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        p.x[j][e] = __ldg(reinterpret_cast<const int2*>(xtok[j] + int64_t(c + e) * 32));
        p.d[j][e] = __ldg(reinterpret_cast<const float4*>(dtok[j][e] + c));
      }
  };

  float acc[2][kOut];  // slices 2q and 2q + 1
#pragma unroll
  for (int k = 0; k < kOut; ++k) acc[0][k] = acc[1][k] = 0.0f;
  auto compute = [&](const PairLoads<NT>& p) {
#pragma unroll
    for (int e = 0; e < 2; ++e)
#pragma unroll
      for (int i = 0; i < kRowTiles; ++i) {
        const uint32_t wa = p.w[i][0][e], wb = p.w[i][1][e];
        const uint32_t a[4] = {wa & 0x0F0F0F0Fu, wb & 0x0F0F0F0Fu, (wa >> 4) & 0x0F0F0F0Fu, (wb >> 4) & 0x0F0F0F0Fu};
#pragma unroll
        for (int j = 0; j < NT; ++j) {
          int c[4];
          mma_u8s8(a, uint32_t(p.x[j][e].x), uint32_t(p.x[j][e].y), c);
#pragma unroll
          for (int k = 0; k < 4; ++k) {
            const float4 dd = p.d[j][k & 1];
            const float2 d = e == 0 ? make_float2(dd.x, dd.y) : make_float2(dd.z, dd.w);
            float& a_ = acc[e][(i * NT + j) * 4 + k];
            a_ = add_chunk(a_, p.s[i][k >> 1], p.b[i][k >> 1], d, c[k]);
          }
        }
      }
  };

  // Pair q's node into the tree; the split's root after its last pair.
  auto finish_pair = [&](int local_q) {
    int level = 0;
#pragma unroll
    for (int k = 0; k < kOut; ++k) acc[0][k] = __fadd_rn(acc[0][k], acc[1][k]), acc[1][k] = 0.0f;
    for (int bits = local_q; bits & 1; bits >>= 1, ++level)
#pragma unroll
      for (int k = 0; k < kOut; ++k) acc[0][k] = __fadd_rn(stack[warp][level][k][lane], acc[0][k]);
    if (local_q + 1 < pairs_per_split) {
#pragma unroll
      for (int k = 0; k < kOut; ++k) stack[warp][level][k][lane] = acc[0][k], acc[0][k] = 0.0f;
    }
  };

  // The split's pairs in order, each pair's chunks in order, the next chunk pair's loads
  // in flight while one is multiplied. A pair past the last chunk (fewer than 32 chunk
  // pairs) is a slice of nothing: its node is 0, as in the dp4a kernel.
  const int pairs = pairs_per_split;
  PairLoads<NT> cur, next;
  int lq = 0, c = 2 * q_begin;
  if (c < chunks) load_weights(c, cur);
  griddep_wait();
  if (c < chunks) load_activations(c, cur);
  while (lq < pairs) {
    int next_lq = lq, next_c = c + 32;
    if (next_c >= chunks) next_lq = lq + 1, next_c = 2 * (q_begin + next_lq);
    if (next_lq < pairs && next_c < chunks) {
      load_weights(next_c, next);
      load_activations(next_c, next);
    }
    if (c < chunks) compute(cur);
    if (next_lq != lq) finish_pair(lq);
    cur = next;
    lq = next_lq, c = next_c;
  }

  // acc[0] is the split's node.
  const FragmentOut out(m, y, y_stride, partial, n);
#pragma unroll
  for (int i = 0; i < kRowTiles; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int k = 0; k < 4; ++k) out.store(r0 + 16 * i, n0 + 8 * j, g, t, k, acc[0][(i * NT + j) * 4 + k]);
}

// The splits' nodes as the top of the same pairwise tree, then the bias.
__global__ void add_split_tree(const float* partial, int splits, int n, int64_t rows, const float* bias, float* y,
                               int64_t y_stride) {
  griddep_wait();
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= int64_t(n) * rows) return;
  float v[kPairs];
  for (int z = 0; z < splits; ++z) v[z] = partial[int64_t(z) * n * rows + i];
  for (int w = 1; w < splits; w <<= 1)
    for (int z = 0; z + w < splits; z += 2 * w) v[z] = __fadd_rn(v[z], v[z + w]);
  const int64_t tok = i / rows, row = i % rows;
  y[tok * y_stride + row] = v[0] + (bias ? bias[row] : 0.0f);
}

// Splits (1, 2, 4, 8 or 16) so that the grid has about two blocks an SM, from the matrix
// and the GPU alone.
int split_count(int64_t rows, int token_tiles) {
  const int64_t blocks = ceil_div(rows, kBlockRows) * token_tiles;
  int splits = 1;
  while (splits < kPairs && blocks * splits < 2 * sm_count()) splits *= 2;
  return splits;
}

// A block's tokens: 16 (two 8-token MMA tiles); passes have kMinInt8MmaRows or more.
int token_tiles(int n) { return int(ceil_div(n, 16)); }

template <int NT, int SCALE>
void launch_int8(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y, int64_t ys, float* partial,
                 cudaStream_t st) {
  const int tiles = token_tiles(n), splits = split_count(m.rows, tiles);
  const dim3 grid(unsigned(tiles), unsigned(ceil_div(m.rows, kBlockRows)), unsigned(splits));
  launch(gemm_int8_q4<NT, SCALE>, grid, kWarps * 32, 0, st, m, xq, xd, n, y, ys, kPairs / splits, partial);
  if (splits > 1)
    launch(add_split_tree, ceil_div(int64_t(n) * m.rows, 256), 256, 0, st, partial, splits, n, m.rows, m.bias, y, ys);
}

}  // namespace

bool int8_mma_eligible(const DevMatrix& m) {
  return m.kind == MatrixPlan::Kind::Affine && m.bits == 4 && m.nibbles_split && m.group >= 64 && m.cols % 64 == 0;
}

int64_t int8_mma_partial_elems(int64_t rows, int most_tokens) {
  int64_t most = 0;
  for (int n = 1; n <= most_tokens; ++n) {
    const int splits = split_count(rows, token_tiles(n));
    if (splits > 1) most = std::max(most, int64_t(splits) * n * rows);
  }
  return most;
}

void gemm_int8_mma(const DevMatrix& m, const int8_t* xq, const float2* xd, int n, float* y, int64_t y_stride,
                   MatmulScratch& s, cudaStream_t st) {
  const int splits = split_count(m.rows, token_tiles(n));
  if (splits > 1 && int64_t(splits) * n * m.rows > s.tc_partial_elems)
    throw std::runtime_error("matmul: split-K scratch too small");
  with_dp4a_format(m, [&](auto, auto scale) { launch_int8<2, scale()>(m, xq, xd, n, y, y_stride, s.tc_partial, st); });
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

}  // namespace mlxcpp::cuda
