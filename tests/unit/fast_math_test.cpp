// The fast path's softmax and SiLU (backend/cpu/fast_math.h) against the reference
// versions (ops.h, glibc's exp and a double sum): within a few float roundings, over the
// exponential's whole range, masked (-inf) entries and lengths that are not multiples of 16.
// Also run on ARM64 under qemu (tests/tools/arm64_kernels_check.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/fast_math.h"
#include "backend/cpu/ops.h"

namespace mlxcpp {
namespace {

TEST(FastMath, SoftmaxMatchesTheReference) {
  std::mt19937 rng(3);
  for (const int64_t n : {1, 7, 16, 45, 300, 4099})
    for (const float spread : {0.1f, 5.0f, 60.0f}) {
      SCOPED_TRACE("n " + std::to_string(n) + " spread " + std::to_string(spread));
      std::normal_distribution<float> nd(0.0f, spread);
      std::vector<float> x(static_cast<size_t>(n));
      for (auto& v : x) v = nd(rng);
      if (n > 10) x[3] = x[9] = -INFINITY;  // masked positions
      std::vector<float> want = x, got = x;
      cpu::softmax(want.data(), n);
      cpu::softmax_fast(got.data(), n);
      double total = 0;
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_NEAR(got[size_t(i)], want[size_t(i)], 2e-6 * want[size_t(i)] + 1e-30) << "entry " << i;
        total += got[size_t(i)];
      }
      EXPECT_NEAR(total, 1.0, 1e-5);
      if (n > 10) EXPECT_EQ(got[3], 0.0f);
    }
}

TEST(FastMath, SiluMatchesTheReference) {
  std::vector<float> gate, up;
  for (float g = -100.0f; g <= 100.0f; g += 0.37f) gate.push_back(g), up.push_back(1.0f + 0.01f * g);
  gate.push_back(-1e4f), up.push_back(1.0f);  // exp overflows in the reference: silu -> 0
  gate.push_back(1e4f), up.push_back(1.0f);
  std::vector<float> want(gate.size()), got(gate.size());
  cpu::silu_mul(gate.data(), up.data(), want.data(), int64_t(gate.size()));
  cpu::silu_mul_fast(gate.data(), up.data(), got.data(), int64_t(gate.size()));
  for (size_t i = 0; i < gate.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-6 * std::abs(want[i]) + 1e-30) << "gate " << gate[i];
}

// Against a double-precision evaluation of g · up / (1 + e^(-2u)), which equals
// 0.5 · g · (1 + tanh u) · up without its cancellation: the float reference loses digits where
// tanh u nears -1 (gate below about -3), so it is held to the double value above that only.
TEST(FastMath, GeluTanhMatchesTheReference) {
  std::vector<float> gate, up;
  for (float g = -60.0f; g <= 60.0f; g += 0.173f) gate.push_back(g), up.push_back(1.0f - 0.01f * g);
  std::vector<float> got(gate.size()), plain(gate.size());
  cpu::gelu_tanh_mul_fast(gate.data(), up.data(), got.data(), int64_t(gate.size()));
  cpu::gelu_tanh_mul(gate.data(), up.data(), plain.data(), int64_t(gate.size()));
  for (size_t i = 0; i < gate.size(); ++i) {
    const double g = gate[i], u = std::sqrt(2.0 / M_PI) * (g + 0.044715 * g * g * g);
    const double want = g * up[i] / (1.0 + std::exp(-2.0 * u));
    // e^(-2u) amplifies the float rounding of its argument: 2^-23 · |2u| relative.
    const double tol = (1e-6 + std::abs(2 * u) * 1.2e-7) * std::abs(want) + 1e-30;
    ASSERT_NEAR(got[i], want, tol) << "gate " << gate[i];
    if (g > -3) ASSERT_NEAR(plain[i], want, 1e-6 * std::abs(want) + 1e-7) << "gate " << gate[i];  // the reference too
  }
}

}  // namespace
}  // namespace mlxcpp
