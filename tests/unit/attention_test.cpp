// CPU attention: the tile kernels (backend/cpu/attention.h) against plain double-precision
// sums, in f32 and bf16 storage and for head sizes that are and are not multiples of 16, and
// a row's result bit for bit the same whatever rows share the call (through whole models:
// arch_parity_test's PromptAndDecodeGiveTheSameLogits). Also run on ARM64 under qemu
// (tests/tools/arm64_kernels_check.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/attention.h"
#include "util/float_bits.h"

namespace mlxcpp {
namespace {

constexpr int64_t T = cpu::kKeyTile;

// Random values, also as stored in bf16 (the kernels must read either).
struct Stored {
  std::vector<float> f32;
  std::vector<uint16_t> bf16;
  const void* data(bool as_bf16) const { return as_bf16 ? static_cast<const void*>(bf16.data()) : f32.data(); }
  float at(size_t i, bool as_bf16) const { return as_bf16 ? bf16_to_f32(bf16[i]) : f32[i]; }
};

Stored random_values(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Stored s;
  for (size_t i = 0; i < n; ++i) {
    s.f32.push_back(nd(rng));
    s.bf16.push_back(f32_to_bf16(s.f32.back()));
  }
  return s;
}

std::vector<float> random_floats(size_t n, std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

TEST(AttentionKernels, ScoresAreTheDotProductsWithEachKeyOfTheTile) {
  std::mt19937 rng(7);
  for (const int64_t dim : {8, 32, 64, 96, 128})
    for (const int64_t rows : {1, 3, 4, 8, 13})
      for (const bool bf16 : {false, true})
        for (const int64_t tiles : {1, 2}) {
          SCOPED_TRACE("head_dim " + std::to_string(dim) + " rows " + std::to_string(rows) + (bf16 ? " bf16" : " f32") +
                       " tiles " + std::to_string(tiles));
          const Stored keys = random_values(size_t(dim * T), rng), next = random_values(size_t(dim * T), rng);
          const auto q = random_floats(size_t(rows * dim), rng, -1.0f, 1.0f);
          const int64_t stride = tiles * T + 5;
          std::vector<float> s(size_t(rows * stride), -7.0f);
          cpu::key_tile_scores(q.data(), rows, dim, keys.data(bf16), tiles == 2 ? next.data(bf16) : nullptr, bf16,
                               s.data(), stride);
          for (int64_t r = 0; r < rows; ++r) {
            for (int64_t j = 0; j < tiles * T; ++j) {
              const Stored& tile = j < T ? keys : next;
              double want = 0, scale = 0;
              for (int64_t d = 0; d < dim; ++d) {
                const double term = double(q[size_t(r * dim + d)]) * tile.at(size_t(d * T + j % T), bf16);
                want += term, scale += std::abs(term);
              }
              ASSERT_NEAR(s[size_t(r * stride + j)], want, 1e-6 * scale + 1e-7) << "row " << r << " key " << j;
            }
            for (int64_t j = tiles * T; j < stride; ++j)
              ASSERT_EQ(s[size_t(r * stride + j)], -7.0f) << "wrote past the tiles";
          }
        }
}

TEST(AttentionKernels, WeightedValuesAddEachPositionsValueTimesItsWeight) {
  std::mt19937 rng(8);
  for (const int64_t dim : {8, 40, 64, 96, 128})
    for (const int64_t rows : {1, 4, 7})
      for (const int64_t count : {1, 16, 37})
        for (const bool bf16 : {false, true}) {
          SCOPED_TRACE("head_dim " + std::to_string(dim) + " rows " + std::to_string(rows) + " positions " +
                       std::to_string(count) + (bf16 ? " bf16" : " f32"));
          const Stored values = random_values(size_t(count * dim), rng);  // [count][dim]
          const int64_t stride = count + 3;
          const auto p = random_floats(size_t(rows * stride), rng, 0.0f, 1.0f);
          const auto start = random_floats(size_t(rows * dim), rng, -1.0f, 1.0f);  // added to, not overwritten
          std::vector<float> out = start;
          cpu::add_weighted_values(p.data(), stride, rows, values.data(bf16), bf16, count, dim, out.data());
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t d = 0; d < dim; ++d) {
              double want = start[size_t(r * dim + d)], scale = std::abs(want);
              for (int64_t j = 0; j < count; ++j) {
                const double term = double(p[size_t(r * stride + j)]) * values.at(size_t(j * dim + d), bf16);
                want += term, scale += std::abs(term);
              }
              ASSERT_NEAR(out[size_t(r * dim + d)], want, 1e-6 * scale + 1e-7) << "row " << r << " dim " << d;
            }
        }
}

TEST(AttentionKernels, ARowGetsTheSameResultWhateverRowsComeWithIt) {
  std::mt19937 rng(9);
  const int64_t dim = 64, rows = 13, count = 40;
  const Stored keys = random_values(size_t(dim * T), rng), next = random_values(size_t(dim * T), rng);
  const Stored values = random_values(size_t(count * dim), rng);
  const auto q = random_floats(size_t(rows * dim), rng, -1.0f, 1.0f);
  const auto p = random_floats(size_t(rows * count), rng, 0.0f, 1.0f);
  // All rows against two tiles at once; each row alone against one tile at a time.
  std::vector<float> s_all(size_t(rows * 2 * T)), out_all(size_t(rows * dim), 0.0f);
  cpu::key_tile_scores(q.data(), rows, dim, keys.data(true), next.data(true), true, s_all.data(), 2 * T);
  cpu::add_weighted_values(p.data(), count, rows, values.data(true), true, count, dim, out_all.data());
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> s(2 * T), out(size_t(dim), 0.0f);
    cpu::key_tile_scores(&q[size_t(r * dim)], 1, dim, keys.data(true), nullptr, true, s.data(), T);
    cpu::key_tile_scores(&q[size_t(r * dim)], 1, dim, next.data(true), nullptr, true, s.data() + T, T);
    cpu::add_weighted_values(&p[size_t(r * count)], count, 1, values.data(true), true, count, dim, out.data());
    for (int64_t j = 0; j < 2 * T; ++j) ASSERT_EQ(s[size_t(j)], s_all[size_t(r * 2 * T + j)]) << "row " << r;
    for (int64_t d = 0; d < dim; ++d) ASSERT_EQ(out[size_t(d)], out_all[size_t(r * dim + d)]) << "row " << r;
  }
}

}  // namespace
}  // namespace mlxcpp
