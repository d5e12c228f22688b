// MLX's own quantization outputs (tests/data/mlx-quant, made by MLX's C++ API; see its
// PROVENANCE.md) reproduced: quantize bit-exact, dequantize exact for f32 and within one
// rounding of the dtype for bf16/f16, quantized matmul within accumulation error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <regex>
#include <set>

#include "format/safetensors.h"
#include "quant/quantize_tensor.h"
#include "test_support.h"

namespace mlxcpp {
namespace {

struct VectorCase {
  std::string key;
  QuantSpec spec;
  DType dtype;
};

const SafetensorsFile& vectors() {
  static const SafetensorsFile f =
      SafetensorsFile::open((test::data_dir() / "mlx-quant" / "mlx-quant-vectors.safetensors").string());
  return f;
}

std::vector<VectorCase> all_cases() {
  std::vector<VectorCase> out;
  std::set<std::string> keys;
  for (const auto& e : vectors().entries())
    if (e.name.ends_with(".wq")) keys.insert(e.name.substr(0, e.name.size() - 3));
  static const std::regex re(R"(^(\w+)\.b(\d+)\.g(\d+)\.(f32|bf16|f16)$)");
  for (const auto& k : keys) {
    std::smatch m;
    EXPECT_TRUE(std::regex_match(k, m, re)) << k;
    VectorCase c{k, {*parse_quant_mode(m[1].str()), std::stoi(m[2]), std::stoi(m[3])},
                 m[4] == "f32" ? DType::F32 : m[4] == "bf16" ? DType::BF16 : DType::F16};
    out.push_back(c);
  }
  return out;
}

std::vector<float> as_f32(const TensorView& t) {
  std::vector<float> v(size_t(t.numel()));
  convert_to_f32(t.dtype(), t.data, v.data(), v.size());
  return v;
}

std::vector<uint8_t> bytes(const TensorView& t) { return {t.data, t.data + t.nbytes()}; }

double eps_of(DType d) { return d == DType::F32 ? std::ldexp(1.0, -23) : d == DType::BF16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11); }

TEST(QuantVectors, CoversEveryModeBitsGroupAndDtype) {
  const auto cases = all_cases();
  // affine: 6 bit widths x 3 group sizes x 3 dtypes; mxfp4, mxfp8, nvfp4 x 3 dtypes.
  EXPECT_EQ(cases.size(), 6u * 3 * 3 + 3 * 3);
}

TEST(QuantVectors, QuantizeIsBitExact) {
  for (const auto& c : all_cases()) {
    SCOPED_TRACE(c.key);
    const TensorView w = vectors().tensor(c.key + ".w");
    const auto wf = as_f32(w);
    const size_t rows = size_t(w.shape()[0]), cols = size_t(w.shape()[1]);
    const DType sdt = c.spec.mode == QuantMode::Affine ? c.dtype : DType::U8;
    std::vector<uint8_t> packed(rows * cols * size_t(c.spec.bits) / 8);
    std::vector<uint8_t> scales(rows * cols / size_t(c.spec.group_size) * dtype_size(sdt));
    std::vector<uint8_t> biases(scales.size());
    quantize_matrix(wf.data(), rows, cols, c.spec, c.dtype, packed.data(), scales.data(), biases.data());
    EXPECT_EQ(packed, bytes(vectors().tensor(c.key + ".wq")));
    EXPECT_EQ(scales, bytes(vectors().tensor(c.key + ".scales")));
    if (c.spec.has_biases()) EXPECT_EQ(biases, bytes(vectors().tensor(c.key + ".biases")));
  }
}

TEST(QuantVectors, DequantizeMatchesMlx) {
  for (const auto& c : all_cases()) {
    SCOPED_TRACE(c.key);
    const TensorView wq = vectors().tensor(c.key + ".wq");
    const TensorView sc = vectors().tensor(c.key + ".scales");
    const auto deq = as_f32(vectors().tensor(c.key + ".deq"));
    const size_t rows = size_t(wq.shape()[0]), cols = size_t(wq.shape()[1]) * 32 / size_t(c.spec.bits);
    std::vector<float> out(rows * cols);
    const uint8_t* biases = c.spec.has_biases() ? vectors().tensor(c.key + ".biases").data : nullptr;
    dequantize_matrix(wq.data, sc.data, biases, rows, cols, c.spec, sc.dtype(), out.data());
    std::vector<float> bias(rows * cols / size_t(c.spec.group_size), 0.0f);
    if (biases) convert_to_f32(sc.dtype(), biases, bias.data(), bias.size());
    int mismatches = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      if (c.dtype == DType::F32) {
        if (out[i] != deq[i]) ++mismatches;  // exact
        continue;
      }
      // MLX evaluates scale*q + bias in the dtype: the product and the sum are each
      // rounded once, so the error is at most one unit of each in the dtype.
      const double b = std::abs(double(bias[i / size_t(c.spec.group_size)]));
      const double tol = eps_of(c.dtype) * (2 * std::abs(double(out[i])) + b) + 1e-7;
      if (std::abs(double(out[i]) - double(deq[i])) > tol) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(QuantVectors, QuantizedMatmulMatchesMlx) {
  for (const auto& c : all_cases()) {
    SCOPED_TRACE(c.key);
    const auto deq = as_f32(vectors().tensor(c.key + ".deq"));
    const TensorView xt = vectors().tensor(c.key + ".x");
    const auto x = as_f32(xt);
    const auto y = as_f32(vectors().tensor(c.key + ".y"));
    const size_t m = size_t(xt.shape()[0]), k = size_t(xt.shape()[1]), n = y.size() / m;
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < n; ++j) {
        double acc = 0, mag = 0;
        for (size_t t = 0; t < k; ++t) {
          acc += double(x[i * k + t]) * double(deq[j * k + t]);
          mag += std::abs(double(x[i * k + t]) * double(deq[j * k + t]));
        }
        // f32: one rounding per term. 16-bit dtypes: MLX's CPU kernel accumulates in the
        // dtype itself, whose rounding errors grow like a random walk, sqrt(k) units.
        const double spread = c.dtype == DType::F32 ? 1.0 : std::sqrt(double(k));
        const double tol = eps_of(c.dtype) * (std::abs(acc) + spread * mag) + 1e-6;
        EXPECT_NEAR(y[i * n + j], acc, tol) << i << "," << j;
      }
  }
}

}  // namespace
}  // namespace mlxcpp
