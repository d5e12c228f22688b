// convert and synth: bit-identical to MLX on a real model, sharding and index, atomicity.
#include "convert/convert.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "convert/mlx_writer.h"
#include "convert/presets.h"
#include "convert/synth.h"
#include "format/model_config.h"
#include "format/weight_set.h"
#include "test_support.h"
#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

namespace fs = std::filesystem;

// fortune-tiny-mlx-4bit-g64 was made by MLX itself from fortune-tiny (cast to bf16, then
// quantize(group_size=64, bits=4)); our convert must produce the same bytes.
TEST(Convert, ReproducesMlxQuantizationOfTheTinyModelBitForBit) {
  test::TempDir tmp;
  ConvertOptions o;
  o.dtype = DType::BF16;
  o.quant = QuantSpec{QuantMode::Affine, 4, 64};
  o.threads = 2;
  const ConvertResult r = convert_model(test::data_dir() / "models" / "fortune-tiny", tmp / "out", o);
  EXPECT_EQ(r.quantized, 29);
  const WeightSet ours = WeightSet::open(tmp / "out");
  const WeightSet mlx = WeightSet::open(test::bundled_model());
  ASSERT_EQ(ours.names(), mlx.names());
  for (const auto& name : mlx.names()) {
    const TensorView a = ours.get(name), b = mlx.get(name);
    EXPECT_EQ(a.dtype(), b.dtype()) << name;
    EXPECT_EQ(a.shape(), b.shape()) << name;
    ASSERT_EQ(a.nbytes(), b.nbytes()) << name;
    EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes()), 0) << name;
  }
  const ModelConfig c = load_model_config(tmp / "out");
  EXPECT_EQ(c.quantization.global, (QuantSpec{QuantMode::Affine, 4, 64}));
  const auto config = read_json_file(tmp / "out" / "config.json");
  EXPECT_EQ(config["quantization_config"], config["quantization"]);
  EXPECT_EQ(config["dtype"], "bfloat16");
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json",
                        "model.safetensors.index.json"})
    EXPECT_TRUE(fs::exists(tmp / "out" / f)) << f;
  const auto index = read_json_file(tmp / "out" / "model.safetensors.index.json");
  EXPECT_EQ(index["metadata"]["total_parameters"], 1049728);
  EXPECT_EQ(index["weight_map"].size(), 96u);
}

TEST(Convert, EveryModeProducesAModelThatInspectsConsistently) {
  for (QuantMode mode : {QuantMode::Affine, QuantMode::MxFp4, QuantMode::MxFp8, QuantMode::NvFp4}) {
    test::TempDir tmp;
    ConvertOptions o;
    o.quant = default_quant_spec(mode);
    convert_model(test::data_dir() / "models" / "fortune-tiny", tmp / "out", o);
    const WeightSet ws = WeightSet::open(tmp / "out");
    EXPECT_EQ(ws.contains("model.embed_tokens.biases"), mode == QuantMode::Affine);
    EXPECT_EQ(ws.get("model.embed_tokens.scales").dtype(), mode == QuantMode::Affine ? DType::F32 : DType::U8);
  }
}

TEST(Convert, RefusesExistingOutputAndQuantizedInput) {
  test::TempDir tmp;
  fs::create_directory(tmp / "exists");
  EXPECT_THROW(convert_model(test::data_dir() / "models" / "fortune-tiny", tmp / "exists", {}), Error);
  try {
    convert_model(test::bundled_model(), tmp / "new", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already quantized"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(tmp / "new"));
}

TEST(Convert, AFailureLeavesNoOutputBehind) {
  test::TempDir tmp;
  std::vector<FloatSource> src = {{"a.weight", {4, 64}, [](size_t, size_t, float*) { throw Error("read failed"); }}};
  EXPECT_THROW(build_directory_atomically(tmp / "out",
                                          [&](const fs::path& d) { write_mlx_model(src, {}, MlxWriteOptions{}, d); }),
               Error);
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(Convert, ShardsRespectTheLimitAndTheIndexMatches) {
  test::TempDir tmp;
  std::vector<FloatSource> src;
  for (int i = 0; i < 5; ++i)
    src.push_back({"layer" + std::to_string(i) + ".weight", {64, 128}, [](size_t, size_t count, float* out) {
                     for (size_t k = 0; k < count * 128; ++k) out[k] = float(k % 17) * 0.01f;
                   }});
  MlxWriteOptions o;
  o.dtype = DType::F32;
  o.max_shard_bytes = 2 * 64 * 128 * 4;  // two tensors per shard
  fs::create_directory(tmp / "m");
  const MlxWriteResult r = write_mlx_model(src, {{"model_type", "llama"}}, o, tmp / "m");
  EXPECT_EQ(r.shards, 3);
  EXPECT_TRUE(fs::exists(tmp / "m" / "model-00003-of-00003.safetensors"));
  const WeightSet ws = WeightSet::open(tmp / "m");  // validates the index against the files
  EXPECT_EQ(ws.names().size(), 5u);
}

TEST(Synth, PresetsHaveRealShapesAndTokenizers) {
  test::TempDir tmp;
  SynthOptions o;
  o.like = "qwen2.5-0.5b";
  o.layers = 1;
  o.quant = QuantSpec{QuantMode::Affine, 4, 64};
  synth_model(o, tmp / "q");
  const ModelConfig c = load_model_config(tmp / "q");
  EXPECT_EQ(c.hidden_size, 896);
  EXPECT_EQ(c.num_hidden_layers, 1);
  const WeightSet ws = WeightSet::open(tmp / "q");
  EXPECT_EQ(ws.get("model.layers.0.self_attn.q_proj.bias").shape(), std::vector<int64_t>{896});
  EXPECT_EQ(ws.get("model.embed_tokens.weight").shape(), (std::vector<int64_t>{151936, 896 * 4 / 32}));
  EXPECT_TRUE(fs::exists(tmp / "q" / "tokenizer.json"));
  EXPECT_FALSE(ws.contains("lm_head.weight"));  // tied
}

// Gemma 3 4B's preset reads as a gemma3_text model: every 6th layer global, the others
// sliding with their own RoPE base, the global ones scaled.
TEST(Synth, Gemma3PresetHasItsLayerKinds) {
  const SynthPreset* g = find_synth_preset("gemma-3-4b");
  ASSERT_TRUE(g);
  const ModelConfig c = parse_model_config(g->config, "gemma-3-4b");
  EXPECT_EQ(c.arch, Architecture::Gemma3);
  ASSERT_EQ(c.layer_types.size(), 34u);
  for (size_t i = 0; i < 34; ++i) EXPECT_EQ(c.layer_types[i], i % 6 == 5 ? "full_attention" : "sliding_attention") << i;
  EXPECT_EQ(c.local_rope_theta, 10000.0);
  ASSERT_TRUE(c.rope_scaling);
  EXPECT_EQ(c.rope_scaling->factor, 8.0);
  EXPECT_EQ(c.query_pre_attn_scalar, 256.0);
}

TEST(Synth, IsDeterministicForASeed) {
  test::TempDir tmp;
  SynthOptions o;
  o.like = "tinyllama-1.1b";
  o.layers = 1;
  o.threads = 2;
  synth_model(o, tmp / "a");
  o.threads = 1;
  synth_model(o, tmp / "b");
  EXPECT_EQ(read_text_file(tmp / "a" / "model.safetensors"), read_text_file(tmp / "b" / "model.safetensors"));
}

}  // namespace
}  // namespace mlxcpp
