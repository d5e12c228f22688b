// inspect's figures for the two bundled models, checked against numbers derived by hand
// from their configs and PROVENANCE (1.05 M parameters, 4-bit g64 with bf16 scales).
#include "model/model_report.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace mlxcpp {
namespace {

TEST(ModelReport, QuantizedBundledModel) {
  const ModelReport r = build_model_report(test::bundled_model());
  // embed 2048x128 + 4 layers x (q 128x128 + k,v 64x128 + o 128x128 + 3 x 384x128 + 2 norms) + final norm
  const int64_t per_layer = 128 * 128 * 2 + 64 * 128 * 2 + 3 * 384 * 128 + 2 * 128;
  EXPECT_EQ(r.parameters, 2048 * 128 + 4 * per_layer + 128);
  EXPECT_EQ(r.parameters, 1049728);
  EXPECT_EQ(r.float_dtype, "BF16");
  // Quantized: 4 bits per weight + 2 bf16 (scale, bias) per 64 weights = 4.5 bits; norms 16 bits.
  const int64_t quantized = r.parameters - 9 * 128;
  EXPECT_EQ(r.weight_bytes, uint64_t(quantized / 2 + quantized / 64 * 4 + 9 * 128 * 2));
  EXPECT_EQ(r.disk_bytes, 601999u);
  EXPECT_EQ(r.kv_bytes_per_1k_tokens, 2 * 4 * 2 * 32 * 2 * 1024);
  EXPECT_EQ(r.classes.at("mlp.down_proj").format, "affine 4-bit g64 (scales BF16)");
  EXPECT_EQ(r.classes.at("mlp.down_proj").tensors, 4);
  EXPECT_EQ(r.classes.at("input_layernorm").format, "BF16");
}

TEST(ModelReport, FloatModel) {
  const ModelReport r = build_model_report(test::data_dir() / "models" / "fortune-tiny");
  EXPECT_EQ(r.parameters, 1049728);
  EXPECT_EQ(r.weight_bytes, 1049728u * 4);
  EXPECT_EQ(r.float_dtype, "F32");
  EXPECT_FALSE(r.config.quantization.global);
  EXPECT_DOUBLE_EQ(r.bits_per_weight(), 32.0);
}

}  // namespace
}  // namespace mlxcpp
