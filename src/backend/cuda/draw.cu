// The sampler's draw (backend/cpu/draw.cpp's draw_token) on logits in device memory, so a
// sampled decode step copies one token to the host instead of the vocabulary's logits.
//
// One kernel does it all, in passes over the vocabulary (it sits in L2, just written by the
// lm_head): the edits, log-softmax, the largest, then the filters — each keeps a prefix of
// the tokens sorted best first (ties by id), so the kept set is "sort key ≤ K" for one key
// K — and the draw walking the kept tokens by id. A pass costs ~30 instructions a token, so
// one SM would take ~40 µs a pass; on sm_90 the kernel runs as a cluster of kClusterCtas
// blocks, each taking every kClusterCtas-th row of the vocabulary, combining their partial
// results through distributed shared memory (every block combines them in the same order
// and so takes the same decisions). Before sm_90 it runs as one block.
//
// K is found without sorting by radix selection over the 64-bit sort key (the ordered
// float bits of the log-probability, then the id), one byte per pass from the top, with
// per-digit histograms of count or of probability mass. Masses and draw weights are
// fixed-point integers (2^62 and 2^40 for 1.0), so their sums do not depend on the order
// the threads add them in: the same draw gives the same token on every run. The float
// arithmetic follows the host's; what differs (fast exponentials and tree sums where the
// host uses double and sequential sums) moves a boundary by ~1e-6 relative, which changes a
// token only when the host's own outcome was that close to a tie.
#include <cooperative_groups.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "backend/cuda/kernels.cuh"

namespace mlxcpp::cuda {
namespace {

constexpr int kThreads = 512, kWarps = kThreads / 32;
constexpr int kBatch = 8;  // 16-byte loads each thread has in flight
constexpr int kClusterCtas = 8;
constexpr int kMaxRows = (kMaxDrawVocab / 4 + kThreads - 1) / kThreads;
constexpr double kMassOne = 0x1p62, kWeightOne = 0x1p40;

// The cluster, or (before sm_90) the one block.
__device__ int cta_rank() {
#if __CUDA_ARCH__ >= 900
  return int(cooperative_groups::this_cluster().block_rank());
#else
  return 0;
#endif
}
__device__ int cta_count() {
#if __CUDA_ARCH__ >= 900
  return int(cooperative_groups::this_cluster().num_blocks());
#else
  return 1;
#endif
}
// Every thread of every block arrives; shared and global writes before are seen after.
__device__ void cluster_sync() {
#if __CUDA_ARCH__ >= 900
  cooperative_groups::this_cluster().sync();
#else
  __syncthreads();
#endif
}
// The same shared variable in block `rank` of the cluster.
template <class T>
__device__ T* in_cta(T* p, int rank) {
#if __CUDA_ARCH__ >= 900
  return cooperative_groups::this_cluster().map_shared_rank(p, rank);
#else
  return p;
#endif
}

// Float bits as an unsigned integer that orders as the float does (−0 as +0).
__device__ uint32_t ordered(float v) {
  const uint32_t u = __float_as_uint(v == 0.0f ? 0.0f : v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
// Ascending keys: best log-probability first, ties by id — the host sampler's order.
__device__ uint64_t sort_key(float lp, int i) { return (uint64_t(~ordered(lp)) << 32) | uint32_t(i); }
__device__ uint64_t mass(float lp) { return uint64_t(double(__expf(lp)) * kMassOne); }

// x[0..n) (readable up to a multiple of 4) is read as rows of kThreads 16-byte groups:
// row r holds ids [4·kThreads·r, 4·kThreads·(r+1)), ascending with the thread; block c of
// the cluster takes rows c, c + ctas, ... Every warp load is 512 contiguous bytes and each
// thread keeps kBatch of them in flight, which is what hides L2 latency.
__device__ int row_count(int n) { return ((n + 3) / 4 + kThreads - 1) / kThreads; }
__device__ int row_owner(int row) { return row % cta_count(); }

// g(row, id, x[id..id+4)) for this block's rows, called by every thread for every row alike
// (ids past n included: g must skip them).
template <class G>
__device__ void each_row(const float* x, int n, G g) {
  const int groups = (n + 3) / 4, rows = row_count(n), first = cta_rank(), step = cta_count();
  const float4* x4 = reinterpret_cast<const float4*>(x);
  for (int j0 = 0; first + j0 * step < rows; j0 += kBatch) {
    float4 v[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int at = (first + (j0 + b) * step) * kThreads + int(threadIdx.x);
      v[b] = at < groups ? x4[at] : make_float4(0, 0, 0, 0);
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int row = first + (j0 + b) * step;
      if (row < rows) g(row, (row * kThreads + int(threadIdx.x)) * 4, v[b]);
    }
  }
}

// f(id, x[id]) for this thread's ids.
template <class F>
__device__ void each(const float* x, int n, F f) {
  each_row(x, n, [&](int, int id, float4 v) {
    if (id < n) f(id, v.x);
    if (id + 1 < n) f(id + 1, v.y);
    if (id + 2 < n) f(id + 2, v.z);
    if (id + 3 < n) f(id + 3, v.w);
  });
}

struct Shared {
  uint64_t hist[256];
  unsigned count[256];
  uint64_t reduce_u64[32];
  double reduce_f64[32];
  float reduce_f32[32];
  uint64_t block_u64;  // this block's part of a cluster reduction
  double block_f64;
  float block_f32;
  uint64_t rows[kMaxRows][kWarps];  // the draw's weight per row and warp (this block's rows)
  uint64_t prefix, before_weight, point;
  int before_count, bin_count, state;  // state: 0 go on, 1 found, 2 never reached
  int row;
};

// Every thread gets op over all threads' v (a fixed tree: the same on every run).
template <class T, class Op>
__device__ T block_all(T v, Op op, T identity, T* scratch) {
  for (int o = 16; o; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();  // scratch may still be read by the previous reduction
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  v = threadIdx.x % 32 < kWarps ? scratch[threadIdx.x % 32] : identity;
  for (int o = 16; o; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// op over every thread of the cluster, the blocks' parts combined in rank order.
template <class T, class Op>
__device__ T cluster_all(T v, Op op, T identity, T* scratch, T* block_part) {
  v = block_all(v, op, identity, scratch);
  if (threadIdx.x == 0) *block_part = v;
  cluster_sync();
  T all = identity;
  for (int c = 0; c < cta_count(); ++c) all = op(all, *in_cta(block_part, c));
  cluster_sync();  // block_part is rewritten by the next reduction
  return all;
}
__device__ uint64_t cluster_sum(uint64_t v, Shared& sh) {
  return cluster_all(v, [](uint64_t a, uint64_t b) { return a + b; }, uint64_t(0), sh.reduce_u64, &sh.block_u64);
}

// The sum of v over the block's threads before this one, and (in *total) over all of them.
__device__ uint64_t exclusive_scan(uint64_t v, uint64_t* total, Shared& sh) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  uint64_t incl = v;
  for (int o = 1; o < 32; o <<= 1) {
    const uint64_t up = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += up;
  }
  __syncthreads();  // reduce_u64 may still be read by the previous reduction
  if (lane == 31) sh.reduce_u64[warp] = incl;
  __syncthreads();
  uint64_t before = 0, all = 0;
  for (int w = 0; w < kWarps; ++w) {  // 16 values from shared memory, the same for every thread
    const uint64_t t = sh.reduce_u64[w];
    before += w < warp ? t : 0;
    all += t;
  }
  *total = all;
  return before + incl - v;
}

// The set of keys (key & mask) ≤ prefix: the `rank` smallest.
struct Cut {
  uint64_t prefix = ~0ull, mask = 0;
  int rank = 0;
};
__device__ bool kept(const Cut& c, float lp, int i) { return (sort_key(lp, i) & c.mask) <= c.prefix; }

// The smallest key K whose keys ≤ K weigh at least `target` (weight: 1 per token, or its
// probability mass), found a byte at a time; rank = their count. A target above the total
// keeps every token. Each block histograms its rows; every block sums the cluster's
// histograms in rank order and takes the same decision.
__device__ Cut select(const float* logits, float lse, int vocab, bool by_mass, uint64_t target, Shared& sh) {
  uint64_t prefix = 0, mask = 0, before = 0;
  int before_count = 0;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += kThreads) sh.hist[b] = 0, sh.count[b] = 0;
    __syncthreads();
    // Runs of one digit are summed in registers before one atomic: the first bytes are the
    // same for most tokens, and 128k atomics on one bin would serialise.
    int run_digit = -1;
    uint64_t run_weight = 0;
    unsigned run_count = 0;
    auto flush = [&] {
      if (run_digit < 0) return;
      atomicAdd(reinterpret_cast<unsigned long long*>(&sh.hist[run_digit]), (unsigned long long)run_weight);
      atomicAdd(&sh.count[run_digit], run_count);
    };
    each(logits, vocab, [&](int i, float l) {
      const float v = l - lse;
      const uint64_t k = sort_key(v, i);
      if ((k & mask) != prefix) return;
      const int digit = int((k >> shift) & 255);
      if (digit != run_digit) flush(), run_digit = digit, run_weight = 0, run_count = 0;
      run_weight += by_mass ? mass(v) : 1;
      ++run_count;
    });
    flush();
    if (threadIdx.x == 0) sh.state = 2;  // unless a bin reaches the target
    cluster_sync();
    // Thread b takes bin b: the bin where the running weight reaches the target.
    const int b = threadIdx.x;
    uint64_t w = 0, c = 0;
    if (b < 256)
      for (int r = 0; r < cta_count(); ++r) w += in_cta(sh.hist, r)[b], c += in_cta(sh.count, r)[b];
    uint64_t total_w, total_c;
    const uint64_t acc = before + exclusive_scan(w, &total_w, sh);
    const uint64_t acc_count = uint64_t(before_count) + exclusive_scan(c, &total_c, sh);
    if (b < 256 && acc < target && target <= acc + w) {
      sh.prefix = prefix | (uint64_t(b) << shift);
      sh.before_weight = acc, sh.before_count = int(acc_count), sh.bin_count = int(c);
      // Done when the bin holds one token (the key), or every token of it is needed.
      sh.state = c == 1 || (!by_mass && acc + w == target) ? 1 : 0;
    }
    cluster_sync();  // the histograms are read; the decision is written
    const int state = sh.state;
    if (state == 2) return Cut{~0ull, 0, vocab};
    prefix = sh.prefix, mask |= 255ull << shift;
    before = sh.before_weight, before_count = sh.before_count;
    const int bin_count = sh.bin_count;
    __syncthreads();  // sh is rewritten by the next pass
    if (state == 1) return Cut{prefix, mask, before_count + bin_count};
  }
  return Cut{prefix, mask, before_count + 1};  // unreachable: keys are unique by their id
}

// Constrained decoding: the tokens outside the mask are −∞ before anything else, as on the
// host. Each thread writes the ids it reads in every later pass (the same rows, lanes).
__device__ void apply_mask(float* logits, int vocab, const uint32_t* allowed) {
  each_row(logits, vocab, [&](int, int id, float4) {
    if (id >= vocab) return;
    const uint32_t word = allowed[id >> 5];  // the 4 ids share it (id % 4 == 0)
    for (int c = 0; c < 4; ++c)
      if (id + c < vocab && !((word >> ((id + c) & 31)) & 1u)) logits[id + c] = -INFINITY;
  });
}

// The logits processors' edits of this block's rows (ids distinct: no two threads meet).
__device__ void apply_edits(float* logits, const DrawParams* p) {
  for (int e = threadIdx.x; e < p->edits; e += kThreads) {
    const LogitEdit& ed = p->edit[e];
    if (row_owner(ed.id / 4 / kThreads) != cta_rank()) continue;
    float l = logits[ed.id];
    if (ed.flags & LogitEdit::kBias) l += ed.bias;
    if (ed.flags & LogitEdit::kRepetition) l = l < 0 ? l * ed.repetition : l / ed.repetition;
    if (ed.flags & LogitEdit::kPresence) l -= ed.presence;
    for (int k = 0; k < ed.occurrences; ++k) l -= ed.frequency;
    logits[ed.id] = l;
  }
  __syncthreads();
}

__global__ void __launch_bounds__(kThreads) draw_kernel(float* logits, int vocab, const DrawParams* p,
                                                         unsigned long long* out) {
  __shared__ Shared sh;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  if (p->allowed) apply_mask(logits, vocab, p->allowed);
  apply_edits(logits, p);

  // log-softmax as log_probabilities(): each thread's largest and sum of exp(l − largest)
  // (rescaled when the largest grows), then combined at the cluster's largest. A thread's
  // terms are summed in float (relative error ~1e-6: a uniform shift of every
  // log-probability that no filter or draw sees, bar top_p's mass within 1e-6 of its
  // bound), the blocks' in double.
  float m = -INFINITY, s = 0;
  each(logits, vocab, [&](int, float l) {
    if (!(l > -INFINITY)) return;  // masked: weighs nothing (and -inf - -inf is NaN)
    if (l > m) s *= __expf(m - l), m = l;
    s += __expf(l - m);
  });
  const float mx =
      cluster_all(m, [](float a, float b) { return fmaxf(a, b); }, -INFINITY, sh.reduce_f32, &sh.block_f32);
  const double sum = cluster_all(m == -INFINITY ? 0.0 : double(s) * double(expf(m - mx)),
                                 [](double a, double b) { return a + b; }, 0.0, sh.reduce_f64, &sh.block_f64);
  const float lse = mx + float(log(sum));
  const float best = mx - lse;  // the largest log-probability (log_probabilities' rounding)

  // The largest (the first on ties, as argmax_row), and how many min_p keeps.
  const float threshold = best + p->log_min_p;
  uint64_t best_key = 0, above = 0;
  each(logits, vocab, [&](int i, float l) {
    const float v = l - lse;
    const uint64_t k = (uint64_t(ordered(v)) << 32) | (0xFFFFFFFFu - uint32_t(i));
    best_key = k > best_key ? k : best_key;
    above += !(v < threshold);
  });
  best_key = cluster_all(best_key, [](uint64_t a, uint64_t b) { return a > b ? a : b; }, uint64_t(0), sh.reduce_u64,
                         &sh.block_u64);
  if (p->temperature == 0) {  // every block alike
    if (tid == 0 && cta_rank() == 0) *out = best_key;
    return;
  }

  // The filters: each a prefix length, the shortest wins.
  int keep = vocab;
  Cut cut;
  cut.rank = vocab;
  if (p->top_k > 0) keep = min(keep, p->top_k);
  if (p->min_p) keep = min(keep, max(min(p->min_keep, vocab), int(cluster_sum(above, sh))));
  if (p->top_p > 0 && p->top_p < 1) {
    cut = select(logits, lse, vocab, true, uint64_t(double(p->top_p) * kMassOne), sh);
    keep = min(keep, cut.rank);
  }
  if (keep < cut.rank) cut = select(logits, lse, vocab, false, uint64_t(keep), sh);

  // The draw: temperature on the kept log-probabilities, their weights walked by id: the
  // weight of every (row, warp), then the row, the warp and the lane that hold the point.
  const float inv_t = 1.0f / p->temperature;
  const bool all_kept = cut.mask == 0;
  auto weight = [&](int i, float l) -> uint64_t {
    const float v = l - lse;
    return all_kept || kept(cut, v, i) ? uint64_t(__expf((v - best) * inv_t) * float(kWeightOne)) : 0;
  };
  const int rows = row_count(vocab);
  each_row(logits, vocab, [&](int row, int id, float4 v) {
    const float l[4] = {v.x, v.y, v.z, v.w};
    uint64_t acc = 0;
    for (int c = 0; c < 4; ++c)
      if (id + c < vocab) acc += weight(id + c, l[c]);
    for (int o = 16; o; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (lane == 0) sh.rows[row][warp] = acc;
  });
  cluster_sync();
  // Thread r takes row r: the row that holds the point, then (every thread alike) the warp.
  uint64_t row_weight = 0;
  if (tid < rows) {
    const auto* owner_rows = in_cta(&sh.rows[0][0], row_owner(tid));
    for (int w = 0; w < kWarps; ++w) row_weight += owner_rows[tid * kWarps + w];
  }
  uint64_t total;
  const uint64_t row_before = exclusive_scan(row_weight, &total, sh);
  const uint64_t at = uint64_t(p->uniform * double(total));
  if (tid < rows && row_before <= at && at < row_before + row_weight) sh.row = tid, sh.point = at - row_before;
  __syncthreads();
  int row = -1, in_warp = 0;
  uint64_t point = 0;
  if (at < total) {  // else the point fell past the end by rounding: the largest
    row = sh.row, point = sh.point;
    const auto* owner_rows = in_cta(&sh.rows[row][0], row_owner(row));
    while (point >= owner_rows[in_warp]) point -= owner_rows[in_warp++];
  }
  cluster_sync();  // no block reads another's rows after this: each may leave
  if (row < 0) {
    if (tid == 0 && cta_rank() == 0) *out = best_key;
    return;
  }
  if (row_owner(row) != cta_rank() || warp != in_warp) return;
  // The warp's four ids per lane in that row, in id order.
  const int id = (row * kThreads + tid) * 4;
  uint64_t w[4], own = 0;
  for (int c = 0; c < 4; ++c) own += w[c] = id + c < vocab ? weight(id + c, logits[id + c]) : 0;
  uint64_t incl = own;
  for (int o = 1; o < 32; o <<= 1) {
    const uint64_t up = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += up;
  }
  const unsigned hit = __ballot_sync(0xffffffffu, point < incl);
  if (lane != __ffs(hit) - 1) return;
  uint64_t acc = incl - own;
  for (int c = 0; c < 4; ++c) {
    if (point < acc + w[c]) {
      *out = 0xFFFFFFFFull - uint64_t(id + c);
      return;
    }
    acc += w[c];
  }
}

bool g_one_block = false;  // set_single_block_draw

// The cluster's size: kClusterCtas on sm_90 and newer, else 1 (and 1 when the front end
// asks for the older GPUs' path, for its test).
int draw_ctas() {
  return g_one_block || compute_major() < 9 ? 1 : kClusterCtas;
}

}  // namespace

bool pack_draw(const TokenDraw& d, DrawParams* out) {
  if (d.edits.size() > size_t(kMaxDrawEdits)) return false;
  out->edits = int32_t(d.edits.size());
  out->top_k = d.top_k;
  out->min_keep = d.min_tokens_to_keep;
  out->min_p = d.min_p ? 1 : 0;
  out->temperature = d.temperature;
  out->top_p = d.top_p;
  out->log_min_p = d.log_min_p;
  out->uniform = d.uniform;
  out->allowed = nullptr;
  if (!d.edits.empty()) std::memcpy(out->edit, d.edits.data(), d.edits.size() * sizeof(LogitEdit));
  return true;
}

void write_draw_mask(const TokenDraw& d, int64_t words, uint32_t* out) {
  const int64_t have = d.allowed ? std::min<int64_t>(words, int64_t(d.allowed->size())) : 0;
  if (have > 0) std::memcpy(out, d.allowed->data(), size_t(have) * 4);
  if (words > have) std::memset(out + have, 0, size_t(words - have) * 4);
}

void draw_token(float* logits, int64_t vocab, const DrawParams* params, unsigned long long* key, cudaStream_t st) {
  const int ctas = draw_ctas();
  if (ctas == 1) {
    draw_kernel<<<1, kThreads, 0, st>>>(logits, int(vocab), params, key);
  } else {
    cudaLaunchConfig_t config = {};
    config.gridDim = dim3(unsigned(ctas));
    config.blockDim = dim3(kThreads);
    config.stream = st;
    cudaLaunchAttribute cluster;
    cluster.id = cudaLaunchAttributeClusterDimension;
    cluster.val.clusterDim.x = unsigned(ctas), cluster.val.clusterDim.y = 1, cluster.val.clusterDim.z = 1;
    config.attrs = &cluster;
    config.numAttrs = 1;
    MLXCPP_CUDA_CHECK(cudaLaunchKernelEx(&config, draw_kernel, logits, int(vocab), params, key));
  }
  MLXCPP_CUDA_CHECK(cudaGetLastError());
}

}  // namespace mlxcpp::cuda

namespace mlxcpp {

void set_single_block_draw(bool one_block) { cuda::g_one_block = one_block; }

}  // namespace mlxcpp
