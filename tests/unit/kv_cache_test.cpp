// The KV cache's storage: float rows read back as stored (f32 exactly, bf16 rounded), and
// mlx-lm's kv_bits: after the switch every row, those stored before included, reads back as
// mx.quantize then dequantize of its bf16 value (quantize_matrix, which reproduces MLX's
// own vectors in quant_vectors_test), through growth of the cache, until reset.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "model/kv_cache.h"
#include "quant/quantize_tensor.h"
#include "util/error.h"
#include "util/float_bits.h"

namespace mlxcpp {
namespace {

constexpr int64_t kLayers = 2, kHeads = 2, kDim = 64;

std::vector<float> row(std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> r(kDim);
  for (auto& v : r) v = nd(rng);
  return r;
}

float element(const KVCache::Span& s, int64_t i) {
  return s.bf16 ? bf16_to_f32(static_cast<const uint16_t*>(s.data)[i]) : static_cast<const float*>(s.data)[i];
}

// Row (layer, head, pos) as attention reads it: from its key tile ([head_dim][16]) and the values.
std::pair<std::vector<float>, std::vector<float>> read_back(const KVCache& c, int64_t l, int64_t h, int64_t p) {
  const int64_t dim = c.head_dim, tile = cpu::kKeyTile;
  std::vector<float> k(static_cast<size_t>(dim)), v(static_cast<size_t>(dim)), scratch(static_cast<size_t>(dim * tile));
  const KVCache::Span keys = c.key_tile(l, h, p / tile, scratch.data());
  for (int64_t d = 0; d < dim; ++d) k[size_t(d)] = element(keys, d * tile + p % tile);
  const KVCache::Span values = c.values(l, h, p, 1, scratch.data());
  for (int64_t d = 0; d < dim; ++d) v[size_t(d)] = element(values, d);
  return {k, v};
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

TEST(KvCache, FloatRowsReadBackAsStored) {
  std::mt19937 rng(1);
  for (KvDtype dt : {KvDtype::F32, KvDtype::BF16}) {
    KVCache c(kLayers, kHeads, kDim, 4, dt);
    const auto k = row(rng), v = row(rng);
    c.store(1, 1, 3, k.data(), v.data());
    const auto [kr, vr] = read_back(c, 1, 1, 3);
    for (int64_t d = 0; d < kDim; ++d) {
      const float want_k = dt == KvDtype::F32 ? k[size_t(d)] : bf16_to_f32(f32_to_bf16(k[size_t(d)]));
      const float want_v = dt == KvDtype::F32 ? v[size_t(d)] : bf16_to_f32(f32_to_bf16(v[size_t(d)]));
      EXPECT_EQ(kr[size_t(d)], want_k);
      EXPECT_EQ(vr[size_t(d)], want_v);
    }
  }
}

TEST(KvCache, GrowthKeepsTheFilledPositionsInBothDtypes) {
  // 18 positions fill one key tile and part of a second; growth moves both.
  constexpr int64_t kFilled = 18, kDimSmall = 4;
  for (KvDtype dt : {KvDtype::F32, KvDtype::BF16}) {
    KVCache kv(2, 3, kDimSmall, 20, dt);
    auto value = [](int64_t l, int64_t h, int64_t p, int64_t d) { return float(l * 1000 + h * 100 + p * 4 + d); };
    for (int64_t l = 0; l < 2; ++l)
      for (int64_t h = 0; h < 3; ++h)
        for (int64_t p = 0; p < kFilled; ++p) {
          float k[kDimSmall], v[kDimSmall];
          for (int64_t d = 0; d < kDimSmall; ++d) k[d] = value(l, h, p, d), v[d] = -value(l, h, p, d);
          kv.store(l, h, p, k, v);
        }
    kv.length = kFilled;
    kv.reserve(40);
    EXPECT_EQ(kv.capacity, 40);
    // Rows for 48 positions: the capacity in whole key tiles.
    EXPECT_EQ(kv.bytes(), uint64_t(2 * 2 * 3 * 48 * kDimSmall) * (dt == KvDtype::F32 ? 4 : 2));
    for (int64_t l = 0; l < 2; ++l)
      for (int64_t h = 0; h < 3; ++h)
        for (int64_t p = 0; p < kFilled; ++p) {
          const auto [k, v] = read_back(kv, l, h, p);
          for (int64_t d = 0; d < kDimSmall; ++d) {
            const float want = dt == KvDtype::F32 ? value(l, h, p, d) : bf16_to_f32(f32_to_bf16(value(l, h, p, d)));
            ASSERT_EQ(k[size_t(d)], want) << "layer " << l << " head " << h << " pos " << p;
            ASSERT_EQ(v[size_t(d)], -want) << "layer " << l << " head " << h << " pos " << p;
          }
        }
  }
}

TEST(KvCache, QuantizedRowsReadBackAsMlxQuantizesThem) {
  for (int bits : {8, 4, 2})
    for (int group : {32, 64}) {
      SCOPED_TRACE("bits " + std::to_string(bits) + " group " + std::to_string(group));
      std::mt19937 rng(uint32_t(bits * 100 + group));
      KVCache c(kLayers, kHeads, kDim, 3, KvDtype::BF16, {bits, group, /*start=*/2});
      std::vector<std::vector<float>> ks, vs;  // [layer][head][pos] flattened
      auto put = [&](int64_t p) {
        for (int64_t l = 0; l < kLayers; ++l)
          for (int64_t h = 0; h < kHeads; ++h) {
            ks.push_back(row(rng)), vs.push_back(row(rng));
            c.store(l, h, p, ks.back().data(), vs.back().data());
          }
        c.length = p + 1;
      };
      put(0), put(1);
      c.quantize_if_due();  // 2 positions: not more than start
      EXPECT_FALSE(c.quantized());
      put(2);
      c.quantize_if_due();  // 3 > 2: every row converted, those stored before included
      ASSERT_TRUE(c.quantized());
      c.reserve(5);  // growth keeps the quantized rows
      put(3);        // stored quantized
      EXPECT_LT(c.bytes(), KVCache(kLayers, kHeads, kDim, 5, KvDtype::BF16).bytes());  // smaller than bf16 rows
      size_t i = 0;
      for (int64_t p = 0; p < 4; ++p)
        for (int64_t l = 0; l < kLayers; ++l)
          for (int64_t h = 0; h < kHeads; ++h, ++i) {
            const auto [kr, vr] = read_back(c, l, h, p);
            const auto want_k = mlx_round_trip(ks[i], bits, group), want_v = mlx_round_trip(vs[i], bits, group);
            for (int64_t d = 0; d < kDim; ++d) {
              ASSERT_EQ(kr[size_t(d)], want_k[size_t(d)]) << "k pos " << p << " layer " << l << " head " << h;
              ASSERT_EQ(vr[size_t(d)], want_v[size_t(d)]) << "v pos " << p << " layer " << l << " head " << h;
              // and near the value: within a step of the group's range
              ASSERT_NEAR(kr[size_t(d)], ks[i][size_t(d)], 8.0 / ((1 << bits) - 1) + 0.05);
            }
          }
      c.reset();
      EXPECT_FALSE(c.quantized());
    }
}

TEST(KvCache, BadQuantizationSettingsNameTheProblem) {
  EXPECT_THROW(
      {
        try {
          KVCache(1, 1, 32, 1, KvDtype::BF16, {4, 64, 0});
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("kv_group_size 64 does not divide the head dimension 32"), std::string::npos)
              << e.what();
          throw;
        }
      },
      Error);
  EXPECT_THROW(KVCache(1, 1, 64, 1, KvDtype::BF16, {7, 64, 0}), Error);
}

}  // namespace
}  // namespace mlxcpp
