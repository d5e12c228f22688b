// The fast CPU kernels (int8 activations on x86, float SIMD elsewhere and for other
// formats) against the exact f32 reference, for every MLX format, bit width and group
// size, one input row (decode) and several (prefill: 26 weight rows × 3, 9 and 67 inputs
// exercise the register tiles, their tails and the blocks of 64 inputs). 1152 columns are
// one whole block of 16 groups of 64 and a part block. ctest runs this again with
// MLXCPP_CPU_KERNEL=avx2 and =none for the kernels this machine would not choose. The
// bound follows from the activation quantization: two int8 codes per element leave an
// error below max|x|/(127·256) (int8_matmul.cpp), so |Δy| <= Σ|w| · max|x| / 32000, plus
// f32 summation noise.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model/weight_matrix.h"
#include "quant/quantize_tensor.h"
#include "runtime/thread_pool.h"

namespace mlxcpp {
namespace {

struct Case {
  QuantSpec spec;
};

TEST(FastKernels, MatchTheReferenceOnEveryFormat) {
  std::vector<QuantSpec> specs;
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int g : {32, 64, 128}) specs.push_back({QuantMode::Affine, bits, g});
  specs.push_back(default_quant_spec(QuantMode::MxFp4));
  specs.push_back(default_quant_spec(QuantMode::MxFp8));
  specs.push_back(default_quant_spec(QuantMode::NvFp4));
  const int64_t rows = 26, cols = 1152;
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
    for (int64_t n : {1, 3, 9, 67}) {
      std::vector<float> x(size_t(n * cols));
      for (auto& v : x) v = nd(rng);
      std::vector<float> ref(size_t(n * rows)), fast(size_t(n * rows)), wrow(static_cast<size_t>(cols));
      m.matmul(x.data(), n, ref.data(), pool, Precision::F32);
      m.matmul(x.data(), n, fast.data(), pool, Precision::Fast);
      float xmax = 0;
      for (float v : x) xmax = std::max(xmax, std::abs(v));
      for (int64_t r = 0; r < rows; ++r) {
        m.dequantize_row(r, wrow.data());
        double wabs = 0, wx = 0;
        for (int64_t k = 0; k < cols; ++k) wabs += std::abs(wrow[size_t(k)]);
        for (int64_t i = 0; i < n; ++i) {
          wx = 0;
          for (int64_t k = 0; k < cols; ++k) wx += std::abs(wrow[size_t(k)] * x[size_t(i * cols + k)]);
          const double tol = wabs * xmax / 32000.0 + 1e-5 * wx;
          EXPECT_NEAR(fast[size_t(i * rows + r)], ref[size_t(i * rows + r)], tol) << "row " << r << " input " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace mlxcpp
