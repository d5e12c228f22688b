// The paged KV cache. The pool's bookkeeping (backend/kv_pool.h): blocks handed out and
// freed, exhaustion an error that changes nothing, prefixes shared by reference and copied
// before a write. The CPU blocks (backend/cpu/kv_blocks.h): float rows read back as stored
// (f32 exactly, bf16 rounded), and mlx-lm's kv_bits: after the switch every row, those
// stored before included, reads back as mx.quantize then dequantize of its bf16 value
// (quantize_matrix, which reproduces MLX's own vectors in quant_vectors_test).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/kv_blocks.h"
#include "backend/kv_pool.h"
#include "quant/quantize_tensor.h"
#include "util/error.h"
#include "util/float_bits.h"

namespace mlxcpp {
namespace {

using cpu::KvBlocks;

constexpr int64_t kLayers = 2, kHeads = 2, kDim = 64;

std::vector<float> row(std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> r(kDim);
  for (auto& v : r) v = nd(rng);
  return r;
}

struct Pool {
  KvBlocks* blocks;
  std::shared_ptr<KvPool> pool;
};
Pool make_pool(int32_t n, bool f32 = false, KvQuantization q = {}, int64_t dim = kDim) {
  auto store = std::make_unique<KvBlocks>(KvLayout{kLayers, kHeads, dim}, f32, q, n);
  KvBlocks* raw = store.get();
  return {raw, std::make_shared<KvPool>(std::move(store))};
}

float element(const KvBlocks::Span& s, int64_t i) {
  return s.bf16 ? bf16_to_f32(static_cast<const uint16_t*>(s.data)[i]) : static_cast<const float*>(s.data)[i];
}

// Row (layer, head, pos) as attention reads it: from its key tile ([head_dim][16]) and the values.
std::pair<std::vector<float>, std::vector<float>> read_back(const KvBlocks& c, const KvSequence& seq, int64_t l, int64_t h,
                                                            int64_t p, int64_t dim = kDim) {
  const int64_t tile = cpu::kKeyTile;
  std::vector<float> k(static_cast<size_t>(dim)), v(static_cast<size_t>(dim)), scratch(static_cast<size_t>(dim * tile));
  const KvBlocks::Span keys = c.key_tile(seq, l, h, p / tile, scratch.data());
  for (int64_t d = 0; d < dim; ++d) k[size_t(d)] = element(keys, d * tile + p % tile);
  const KvBlocks::Span values = c.values(seq, l, h, p, 1, scratch.data());
  for (int64_t d = 0; d < dim; ++d) v[size_t(d)] = element(values, d);
  return {k, v};
}

// Writes position p of every layer and head: value(l, h, p, d) as keys, its negation as values.
float value(int64_t l, int64_t h, int64_t p, int64_t d) { return float(l * 1000 + h * 100 + p * 4 + d); }
void write(KvBlocks& b, KvSequence& seq, int64_t p, float offset = 0, int64_t dim = 4) {
  for (int64_t l = 0; l < kLayers; ++l)
    for (int64_t h = 0; h < kHeads; ++h) {
      std::vector<float> k(static_cast<size_t>(dim)), v(static_cast<size_t>(dim));
      for (int64_t d = 0; d < dim; ++d) k[size_t(d)] = value(l, h, p, d) + offset, v[size_t(d)] = -k[size_t(d)];
      b.store(seq, l, h, p, k.data(), v.data());
    }
}
void expect_rows(const KvBlocks& b, const KvSequence& seq, int64_t from, int64_t to, float offset, int64_t dim = 4) {
  for (int64_t p = from; p < to; ++p)
    for (int64_t l = 0; l < kLayers; ++l)
      for (int64_t h = 0; h < kHeads; ++h) {
        const auto [k, v] = read_back(b, seq, l, h, p, dim);
        for (int64_t d = 0; d < dim; ++d) {
          ASSERT_EQ(k[size_t(d)], value(l, h, p, d) + offset) << "pos " << p;
          ASSERT_EQ(v[size_t(d)], -(value(l, h, p, d) + offset)) << "pos " << p;
        }
      }
}

TEST(KvPool, SequencesTakeWholeBlocksAndGiveThemBack) {
  Pool p = make_pool(8, true, {}, 4);
  {
    KvSequence a(p.pool), b(p.pool);
    a.reserve(17);  // two blocks of 16
    EXPECT_EQ(a.blocks().size(), 2u);
    a.advance(17);
    b.reserve(16);
    b.advance(16);
    EXPECT_EQ(p.pool->used_blocks(), 3);
    a.reserve(15);  // still within its second block
    EXPECT_EQ(p.pool->used_blocks(), 3);
    a.truncate(5);  // the second block goes back
    EXPECT_EQ(a.length(), 5);
    EXPECT_EQ(p.pool->used_blocks(), 2);
  }
  EXPECT_EQ(p.pool->free_blocks(), 8);  // dropped sequences free theirs
}

TEST(KvPool, ExhaustionIsAnErrorThatChangesNothing) {
  Pool p = make_pool(3, true, {}, 4);
  KvSequence a(p.pool), b(p.pool);
  a.reserve(32);
  a.advance(32);
  for (int64_t q = 0; q < 32; ++q) write(*p.blocks, a, q);
  try {
    b.reserve(33);  // 3 blocks wanted, 1 free
    FAIL() << "no error";
  } catch (const KvPoolFull& e) {
    EXPECT_NE(std::string(e.what()).find("3 more blocks"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("1 of 3 are free"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(b.blocks().empty());
  EXPECT_EQ(p.pool->free_blocks(), 1);
  expect_rows(*p.blocks, a, 0, 32, 0);  // the other sequence untouched
  b.reserve(16);                        // what fits still does
  EXPECT_EQ(p.pool->free_blocks(), 0);
}

TEST(KvPool, ForkedPrefixesShareBlocksAndCopyBeforeWriting) {
  Pool p = make_pool(8, true, {}, 4);
  KvSequence a(p.pool);
  a.reserve(20);
  a.advance(20);
  for (int64_t q = 0; q < 20; ++q) write(*p.blocks, a, q);
  // b shares a's first 18 positions: both blocks, by reference.
  KvSequence b = a.fork(18);
  EXPECT_EQ(b.length(), 18);
  EXPECT_EQ(b.blocks(), a.blocks());
  EXPECT_EQ(p.pool->used_blocks(), 2);
  EXPECT_EQ(p.pool->references(a.blocks()[1]), 2);
  // b writes position 18, in the shared second block: b gets its own copy of it.
  b.reserve(1);
  EXPECT_EQ(b.blocks()[0], a.blocks()[0]);
  EXPECT_NE(b.blocks()[1], a.blocks()[1]);
  EXPECT_EQ(p.pool->used_blocks(), 3);
  write(*p.blocks, b, 18, 0.5f);
  b.advance(1);
  expect_rows(*p.blocks, b, 0, 18, 0);      // the shared prefix, copied with the block
  expect_rows(*p.blocks, b, 18, 19, 0.5f);  // its own row
  expect_rows(*p.blocks, a, 0, 20, 0);      // a's rows unchanged, its position 18 included
  // A block shared by three, freed by each in turn.
  {
    KvSequence c = a.fork(16);
    EXPECT_EQ(p.pool->references(a.blocks()[0]), 3);
  }
  EXPECT_EQ(p.pool->references(a.blocks()[0]), 2);
  a.clear();
  EXPECT_EQ(p.pool->references(b.blocks()[0]), 1);
  EXPECT_EQ(p.pool->used_blocks(), 2);
  b.clear();
  EXPECT_EQ(p.pool->free_blocks(), 8);
}

TEST(KvBlocks, FloatRowsReadBackAsStored) {
  std::mt19937 rng(1);
  for (const bool f32 : {true, false}) {
    Pool p = make_pool(2, f32);
    KvSequence seq(p.pool);
    seq.reserve(4);
    const auto k = row(rng), v = row(rng);
    p.blocks->store(seq, 1, 1, 3, k.data(), v.data());
    const auto [kr, vr] = read_back(*p.blocks, seq, 1, 1, 3);
    for (int64_t d = 0; d < kDim; ++d) {
      const float want_k = f32 ? k[size_t(d)] : bf16_to_f32(f32_to_bf16(k[size_t(d)]));
      const float want_v = f32 ? v[size_t(d)] : bf16_to_f32(f32_to_bf16(v[size_t(d)]));
      EXPECT_EQ(kr[size_t(d)], want_k);
      EXPECT_EQ(vr[size_t(d)], want_v);
    }
  }
}

// What MLX makes of a row: its bf16 value quantized (bf16 scales and biases) and back.
std::vector<float> mlx_round_trip(const std::vector<float>& r, int bits, int group) {
  std::vector<float> b(r.size()), out(r.size());
  for (size_t d = 0; d < r.size(); ++d) b[d] = bf16_to_f32(f32_to_bf16(r[d]));
  const QuantSpec spec{QuantMode::Affine, bits, group};
  std::vector<uint8_t> codes(r.size() * size_t(bits) / 8), scales(r.size() / size_t(group) * 2), biases(scales.size());
  quantize_matrix(b.data(), 1, r.size(), spec, DType::BF16, codes.data(), scales.data(), biases.data());
  dequantize_matrix(codes.data(), scales.data(), biases.data(), 1, r.size(), spec, DType::BF16, out.data());
  return out;
}

TEST(KvBlocks, QuantizedRowsReadBackAsMlxQuantizesThem) {
  for (int bits : {8, 4, 2})
    for (int group : {32, 64}) {
      SCOPED_TRACE("bits " + std::to_string(bits) + " group " + std::to_string(group));
      std::mt19937 rng(uint32_t(bits * 100 + group));
      Pool p = make_pool(4, false, {bits, group, /*start=*/2});
      KvSequence c(p.pool);
      std::vector<std::vector<float>> ks, vs;  // [pos][layer][head] flattened
      auto put = [&](int64_t pos) {
        c.reserve(1);
        for (int64_t l = 0; l < kLayers; ++l)
          for (int64_t h = 0; h < kHeads; ++h) {
            ks.push_back(row(rng)), vs.push_back(row(rng));
            p.blocks->store(c, l, h, pos, ks.back().data(), vs.back().data());
          }
        c.advance(1);
      };
      put(0), put(1);
      p.blocks->quantize_if_due(c);  // 2 positions: not more than start
      EXPECT_FALSE(c.quantized());
      put(2);
      KvSequence shared = c.fork(3);  // a sharer keeps the float rows
      p.blocks->quantize_if_due(c);   // 3 > 2: every row converted, those stored before included
      ASSERT_TRUE(c.quantized());
      EXPECT_NE(c.blocks()[0], shared.blocks()[0]);  // converted in its own copy
      for (int64_t d = 0; d < kDim; ++d)
        ASSERT_EQ(read_back(*p.blocks, shared, 0, 0, 0).first[size_t(d)], bf16_to_f32(f32_to_bf16(ks[0][size_t(d)])));
      put(3);  // stored quantized
      size_t i = 0;
      for (int64_t pos = 0; pos < 4; ++pos)
        for (int64_t l = 0; l < kLayers; ++l)
          for (int64_t h = 0; h < kHeads; ++h, ++i) {
            const auto [kr, vr] = read_back(*p.blocks, c, l, h, pos);
            const auto want_k = mlx_round_trip(ks[i], bits, group), want_v = mlx_round_trip(vs[i], bits, group);
            for (int64_t d = 0; d < kDim; ++d) {
              ASSERT_EQ(kr[size_t(d)], want_k[size_t(d)]) << "k pos " << pos << " layer " << l << " head " << h;
              ASSERT_EQ(vr[size_t(d)], want_v[size_t(d)]) << "v pos " << pos << " layer " << l << " head " << h;
              // and near the value: within a step of the group's range
              ASSERT_NEAR(kr[size_t(d)], ks[i][size_t(d)], 8.0 / ((1 << bits) - 1) + 0.05);
            }
          }
      c.clear();
      EXPECT_FALSE(c.quantized());
    }
}

TEST(KvBlocks, BadQuantizationSettingsNameTheProblem) {
  EXPECT_THROW(
      {
        try {
          make_pool(1, false, {4, 64, 0}, 32);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("kv_group_size 64 does not divide the head dimension 32"), std::string::npos)
              << e.what();
          throw;
        }
      },
      Error);
  EXPECT_THROW(make_pool(1, false, {7, 64, 0}), Error);
}

}  // namespace
}  // namespace mlxcpp
