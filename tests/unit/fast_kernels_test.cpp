// The fast CPU kernels (int8 activations on x86, float SIMD elsewhere and for other
// formats) against the exact f32 reference, for every MLX format, bit width and group
// size, one input row (decode) and several (prefill: 134 weight rows × 3, 9 and 67 inputs
// exercise the register tiles, their tails and the blocks of 64 inputs), and that a row's
// result does not depend on the rows it comes with. 1152 columns are
// one whole block of 16 groups of 64 and a part block. ctest runs this again with
// MLXCPP_CPU_KERNEL=avx2 and =none for the kernels this machine would not choose. The
// bound is the activation quantization's (int8_matmul.cpp): per weight group, the rounding
// error of each activation times Σ|w| over the group, plus f32 summation noise. The float
// kernels (no int8 codes) stay well inside it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "backend/cpu/kernel_choice.h"
#include "backend/cpu/int8_matmul.h"
#include "backend/cpu/matmul.h"
#include "quant/quantize_tensor.h"
#include "util/thread_pool.h"
#include "util/float_bits.h"

namespace mlxcpp {
namespace {

// The product through the reference (f32) and the fast path; asserts that each input row
// gives bit for bit what it gives alone (decode and prefill agree, so a prompt continued
// from the cache answers as a fresh one).
void both_paths(const WeightMatrix& m, const std::vector<float>& x, int64_t n, ThreadPool& pool, std::vector<float>& ref,
                std::vector<float>& fast) {
  ref.assign(size_t(n * m.rows), 0.0f);
  fast.assign(size_t(n * m.rows), 0.0f);
  cpu::matmul(m, x.data(), n, ref.data(), pool, Precision::F32);
  cpu::matmul(m, x.data(), n, fast.data(), pool, Precision::Fast);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> alone(static_cast<size_t>(m.rows));
    cpu::matmul(m, &x[size_t(i * m.cols)], 1, alone.data(), pool, Precision::Fast);
    for (int64_t r = 0; r < m.rows; ++r)
      ASSERT_EQ(alone[size_t(r)], fast[size_t(i * m.rows + r)]) << "row " << r << " input " << i;
  }
}

// Random inputs of one row (decode) and several (prefill: the 4-row tiles, their tails and
// the blocks of 64; on a CPU with AMX, 16 inputs and more take its tiles: one exactly, and
// 67 = two passes, the last tile part-filled) through both paths, then check(n, x, ref,
// fast) on each batch.
template <typename Check>
void for_each_batch(const WeightMatrix& m, ThreadPool& pool, std::mt19937& rng, Check check) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int64_t n : {1, 3, 9, 16, 67}) {
    std::vector<float> x(static_cast<size_t>(n * m.cols));
    for (auto& v : x) v = nd(rng);
    std::vector<float> ref, fast;
    both_paths(m, x, n, pool, ref, fast);
    if (::testing::Test::HasFatalFailure()) return;
    check(n, x, ref, fast);
  }
}

// The CPU backend's group-lane order (backend/weight_matrix.h) holds the same weights:
// every row dequantizes to what the file's order gives, for both code widths and group
// sizes, with a whole block of 16 groups and a part block (1152 columns of 64: 16 + 2;
// of 128: 9).
TEST(FastKernels, GroupLaneOrderHoldsTheSameWeights) {
  const int64_t rows = 5, cols = 1152;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(size_t(rows * cols));
  for (auto& v : w) v = nd(rng);
  for (int bits : {4, 8})
    for (int g : {64, 128}) {
      const QuantSpec s{QuantMode::Affine, bits, g};
      SCOPED_TRACE(s.to_string());
      std::vector<uint8_t> packed(size_t(rows * cols * bits / 8)), scales(size_t(rows * cols / g) * 2), biases(scales.size());
      quantize_matrix(w.data(), size_t(rows), size_t(cols), s, DType::BF16, packed.data(), scales.data(), biases.data());
      WeightMatrix m;
      m.rows = rows, m.cols = cols, m.quant = s, m.dtype = DType::BF16;
      m.data = packed.data(), m.scales = scales.data(), m.biases = biases.data();
      std::vector<uint8_t> lanes(packed.size()), back(packed.size());
      for (int64_t r = 0; r < rows; ++r) {
        const size_t at = size_t(r) * m.row_bytes();
        reorder_codes(m, &packed[at], CodeOrder::Mlx, CodeOrder::GroupLanes, &lanes[at]);
        reorder_codes(m, &lanes[at], CodeOrder::GroupLanes, CodeOrder::Mlx, &back[at]);
      }
      EXPECT_EQ(back, packed);
      EXPECT_NE(lanes, packed);
      WeightMatrix l = m;
      l.data = lanes.data(), l.order = CodeOrder::GroupLanes;
      std::vector<float> a(static_cast<size_t>(cols)), b(static_cast<size_t>(cols));
      for (int64_t r = 0; r < rows; ++r) {
        m.dequantize_row(r, a.data());
        l.dequantize_row(r, b.data());
        ASSERT_EQ(a, b) << "row " << r;
      }
    }
}

TEST(FastKernels, MatchTheReferenceOnEveryFormat) {
  std::vector<QuantSpec> specs;
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int g : {32, 64, 128}) specs.push_back({QuantMode::Affine, bits, g});
  specs.push_back(default_quant_spec(QuantMode::MxFp4));
  specs.push_back(default_quant_spec(QuantMode::MxFp8));
  specs.push_back(default_quant_spec(QuantMode::NvFp4));
  const int64_t rows = 134, cols = 1152;  // the pool hands out chunks of 8-9 rows: whole 4-row tiles and tails
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> w(size_t(rows * cols));
  for (auto& v : w) v = 0.05f * nd(rng);
  ThreadPool pool(2);
  // Affine scales and biases come in the model's dtype: bf16 mostly, f16 and f32 too.
  std::vector<std::pair<QuantSpec, DType>> cases;
  for (const QuantSpec& s : specs) cases.push_back({s, s.mode == QuantMode::Affine ? DType::BF16 : DType::U8});
  for (int bits : {4, 8})
    for (DType t : {DType::F16, DType::F32}) cases.push_back({{QuantMode::Affine, bits, 64}, t});
  for (const auto& [s, sdt] : cases) {
    SCOPED_TRACE(s.to_string() + " scales " + std::string(dtype_name(sdt)));
    std::vector<uint8_t> packed(size_t(rows * cols * s.bits / 8)), scales(size_t(rows * cols / s.group_size) * dtype_size(sdt)),
        biases(scales.size());
    quantize_matrix(w.data(), size_t(rows), size_t(cols), s, s.mode == QuantMode::Affine ? sdt : DType::BF16, packed.data(), scales.data(), biases.data());
    WeightMatrix m;
    m.name = "test";
    m.rows = rows;
    m.cols = cols;
    m.quant = s;
    m.dtype = sdt;
    m.data = packed.data();
    m.scales = scales.data();
    m.biases = s.has_biases() ? biases.data() : nullptr;
    std::vector<float> wrow(static_cast<size_t>(cols));
    const int64_t g = s.group_size;  // (outside the lambda: clang 14 cannot capture a structured binding)
    // As the CPU backend holds it: the codes in the order this CPU's int8 kernels want.
    std::vector<uint8_t> reordered(packed.size());
    const CodeOrder order = cpu::int8_code_order(m);
    for (int64_t r = 0; r < rows; ++r)
      reorder_codes(m, &packed[size_t(r) * m.row_bytes()], CodeOrder::Mlx, order, &reordered[size_t(r) * m.row_bytes()]);
    m.data = reordered.data();
    m.order = order;
    for_each_batch(m, pool, rng, [&](int64_t n, const std::vector<float>& x, const std::vector<float>& ref,
                                     const std::vector<float>& fast) {
      // The activation's rounding error per element: d/2 for one int8 code per weight group
      // (d = the group's max|x|/127).
      for (int64_t r = 0; r < rows; ++r) {
        m.dequantize_row(r, wrow.data());
        for (int64_t i = 0; i < n; ++i) {
          double tol = 0, wx = 0;
          for (int64_t k0 = 0; k0 < cols; k0 += g) {
            double amax = 0, wabs = 0;
            for (int64_t k = k0; k < k0 + g; ++k) {
              amax = std::max(amax, double(std::abs(x[size_t(i * cols + k)])));
              wabs += std::abs(wrow[size_t(k)]);
              wx += std::abs(wrow[size_t(k)] * x[size_t(i * cols + k)]);
            }
            tol += amax / 127 / 2 * wabs;
          }
          tol += 1e-5 * wx;  // float summation
          EXPECT_NEAR(fast[size_t(i * rows + r)], ref[size_t(i * rows + r)], tol) << "row " << r << " input " << i;
        }
      }
    });
    if (HasFatalFailure()) return;
  }
}

// Float weights (bf16, f16, f32, with a Linear bias): the same products as the f32 reference
// to float summation (the fast kernels only add in another order), and batch invariance.
// bf16 weights on a CPU with AVX512_BF16 (and MLXCPP_CPU_KERNEL not capping it) dot bf16
// activations: then the bound adds each activation's rounding to bf16 times its weight.
TEST(FastKernels, FloatWeightsMatchTheReference) {
  const int64_t rows = 134, cols = 1152;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  ThreadPool pool(2);
  for (DType t : {DType::BF16, DType::F16, DType::F32}) {
    SCOPED_TRACE(dtype_name(t));
    std::vector<float> w(size_t(rows * cols));
    for (auto& v : w) v = 0.05f * nd(rng);
    std::vector<uint8_t> data(w.size() * dtype_size(t));
    for (size_t k = 0; k < w.size(); ++k) {
      if (t == DType::BF16) {
        const uint16_t h = f32_to_bf16(w[k]);
        std::memcpy(&data[2 * k], &h, 2);
      } else if (t == DType::F16) {
        const uint16_t h = f32_to_f16(w[k]);
        std::memcpy(&data[2 * k], &h, 2);
      } else {
        std::memcpy(&data[4 * k], &w[k], 4);
      }
    }
    WeightMatrix m;
    m.name = "test";
    m.rows = rows;
    m.cols = cols;
    m.dtype = t;
    m.data = data.data();
    std::vector<float> bias;
    for (int64_t r = 0; r < rows; ++r) bias.push_back(0.1f * nd(rng));
    m.bias = bias.data();
    std::vector<float> wrow(static_cast<size_t>(cols));
    for_each_batch(m, pool, rng, [&](int64_t n, const std::vector<float>& x, const std::vector<float>& ref,
                                     const std::vector<float>& fast) {
      const bool bf16_activations = t == DType::BF16 && cpu::kernel_choice().bf16;
      for (int64_t r = 0; r < rows; ++r) {
        m.dequantize_row(r, wrow.data());
        for (int64_t i = 0; i < n; ++i) {
          double wx = std::abs(m.bias[size_t(r)]), rounding = 0;
          for (int64_t k = 0; k < cols; ++k) {
            const float xk = x[size_t(i * cols + k)];
            wx += std::abs(wrow[size_t(k)] * xk);
            if (bf16_activations) rounding += std::abs(wrow[size_t(k)] * (xk - bf16_to_f32(f32_to_bf16(xk))));
          }
          EXPECT_NEAR(fast[size_t(i * rows + r)], ref[size_t(i * rows + r)], 1e-5 * wx + rounding)
              << "row " << r << " input " << i;
        }
      }
    });
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace mlxcpp
