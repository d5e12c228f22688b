// cuda_attention (device_ops.h): the attention kernels alone, for the op tests. The rows'
// caches are laid out as the backend's paged store lays out one layer: blocks of kKvBlock
// positions, [keys | values][kv_head][position][head_dim] in bf16.
#include <algorithm>
#include <stdexcept>

#include "backend/cuda/device_ops.h"
#include "backend/cuda/op_buffers.cuh"
#include "backend/cuda/kernels.cuh"
#include "util/float_bits.h"

namespace mlxcpp {

std::vector<float> cuda_attention(const AttentionProblem& p) {
  using namespace cuda;
  const int64_t n = int64_t(p.positions.size()), H = p.heads, KV = p.kv_heads, D = p.head_dim;
  if (int64_t(p.spans.size()) != n || int64_t(p.queries.size()) != n * H * D || int64_t(p.keys.size()) != n ||
      int64_t(p.values.size()) != n)
    throw std::invalid_argument("cuda_attention: row counts disagree");
  constexpr int64_t B = 16;  // kKvBlock
  const int64_t block_elems = 2 * KV * B * D;
  int64_t width = 1, blocks = 0;
  for (int32_t pos : p.positions) width = std::max<int64_t>(width, (pos + B) / B);
  std::vector<uint16_t> pool;
  std::vector<int32_t> tables(size_t(n * width), 0);
  std::vector<PassRow> rows(static_cast<size_t>(n));
  bool split = false, whole = false;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t pos = p.positions[size_t(r)], count = (pos + B) / B;
    if (int64_t(p.keys[size_t(r)].size()) != (pos + 1) * KV * D ||
        p.values[size_t(r)].size() != p.keys[size_t(r)].size())
      throw std::invalid_argument("cuda_attention: row " + std::to_string(r) + "'s keys are not (pos + 1) positions");
    pool.resize(size_t((blocks + count) * block_elems), 0);
    for (int64_t b = 0; b < count; ++b) tables[size_t(r * width + b)] = int32_t(blocks + b);
    for (int64_t t = 0; t <= pos; ++t)
      for (int64_t h = 0; h < KV; ++h)
        for (int64_t d = 0; d < D; ++d) {
          const int64_t at = (blocks + t / B) * block_elems + (h * B + t % B) * D + d, from = (t * KV + h) * D + d;
          pool[size_t(at)] = f32_to_bf16(p.keys[size_t(r)][size_t(from)]);
          pool[size_t(at + KV * B * D)] = f32_to_bf16(p.values[size_t(r)][size_t(from)]);
        }
    blocks += count;
    rows[size_t(r)] = PassRow{int32_t(pos), int32_t(r * width), 0, p.spans[size_t(r)]};
    (p.spans[size_t(r)] > 0 ? split : whole) = true;
  }
  std::vector<float> qkv(size_t(n * (H + 2 * KV) * D), 0.0f);
  for (int64_t r = 0; r < n; ++r) std::copy_n(p.queries.begin() + r * H * D, H * D, qkv.begin() + r * (H + 2 * KV) * D);

  OpBuffers dev;
  KvLayer kv;
  kv.pool = dev.upload(pool.data(), pool.size());
  kv.block_elems = block_elems, kv.layer_elems = 0, kv.value_elems = KV * B * D, kv.f32 = false;
  AttnArgs a;
  a.H = H, a.KV = KV, a.D = D, a.scale = p.scale, a.softcap = p.softcap, a.window = p.window;
  a.splits = split ? kMaxAttentionSpans : 1;
  a.counters = dev.upload<unsigned>(nullptr, size_t(n * KV));
  a.sinks = p.sinks.empty() ? nullptr : dev.upload(p.sinks.data(), p.sinks.size());
  a.split_rows = split, a.whole_rows = whole;
  const float one = 1.0f;
  float* partial = dev.upload<float>(nullptr, size_t(n * H * kMaxAttentionSpans * (D + 2)));
  float* out = dev.upload<float>(nullptr, size_t(n * H * D));
  attention(dev.upload(qkv.data(), qkv.size()), int(n), dev.upload(rows.data(), rows.size()),
            dev.upload(tables.data(), tables.size()), dev.upload(&one, 1), kv, a, partial, out, nullptr, nullptr,
            nullptr);
  MLXCPP_CUDA_CHECK(cudaGetLastError());
  std::vector<float> result(size_t(n * H * D));
  MLXCPP_CUDA_CHECK(cudaMemcpy(result.data(), out, result.size() * 4, cudaMemcpyDeviceToHost));
  return result;
}

}  // namespace mlxcpp
