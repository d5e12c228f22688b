// config.json parsing: both schemas, per-architecture defaults, quantization entries.
#include "format/model_config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "model/rope.h"
#include "runtime/engine.h"
#include "test_support.h"
#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

using nlohmann::json;

json base(const char* type) {
  return {{"model_type", type}, {"hidden_size", 256}, {"num_hidden_layers", 2}, {"intermediate_size", 512},
          {"num_attention_heads", 8}, {"num_key_value_heads", 2}, {"vocab_size", 1000}, {"rms_norm_eps", 1e-6},
          {"head_dim", 32}, {"rope_theta", 10000.0}, {"max_position_embeddings", 4096}, {"tie_word_embeddings", true}};
}

std::string error_of(const json& j) {
  try {
    parse_model_config(j, "config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfig, ReadsBothBundledSchemas) {
  const ModelConfig newer = load_model_config(test::data_dir() / "models" / "fortune-tiny");
  EXPECT_EQ(newer.arch, Architecture::Llama);
  EXPECT_EQ(newer.rope_theta, 10000.0);  // from rope_parameters
  EXPECT_EQ(newer.dtype, "float32");     // from dtype
  EXPECT_EQ(newer.head_dim, 32);
  EXPECT_EQ(newer.eos_token_ids, std::vector<int64_t>{1});
  EXPECT_FALSE(newer.quantization.global);

  const ModelConfig classic = load_model_config(test::bundled_model());
  EXPECT_EQ(classic.dtype, "bfloat16");  // from torch_dtype
  ASSERT_TRUE(classic.quantization.global);
  EXPECT_EQ(*classic.quantization.global, (QuantSpec{QuantMode::Affine, 4, 64}));
  EXPECT_EQ(classic.kv_bytes_per_token(2), 2 * 4 * 2 * 32 * 2);
}

TEST(ModelConfig, RopeParametersCarryScaling) {
  json j = base("llama");
  j.erase("rope_theta");
  j["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                          {"original_max_position_embeddings", 8192}};
  const ModelConfig c = parse_model_config(j, "x");
  EXPECT_EQ(c.rope_theta, 500000.0);
  ASSERT_TRUE(c.rope_scaling);
  EXPECT_EQ(c.rope_scaling->type, "llama3");
  EXPECT_EQ(c.rope_scaling->factor, 8.0);
}

TEST(ModelConfig, UnknownModelTypeListsSupported) {
  const std::string e = error_of(base("gpt_neox"));
  EXPECT_NE(e.find("'gpt_neox' is not supported"), std::string::npos) << e;
  for (const auto& t : supported_model_types()) EXPECT_NE(e.find(t), std::string::npos) << t;
}

TEST(ModelConfig, MissingAndMistypedFieldsAreNamed) {
  json j = base("qwen3");
  j.erase("head_dim");
  EXPECT_NE(error_of(j).find("'head_dim' is missing"), std::string::npos);
  j = base("llama");
  j["hidden_size"] = "big";
  EXPECT_NE(error_of(j).find("'hidden_size' must be an integer"), std::string::npos);
  j = base("llama");
  j["num_key_value_heads"] = 3;
  EXPECT_NE(error_of(j).find("not a multiple"), std::string::npos);
  j = base("llama");
  j["rope_scaling"] = {{"type", "wild"}};
  EXPECT_NE(error_of(j).find("unsupported rope type 'wild'"), std::string::npos);
}

// Values that cannot be right are refused, naming the field, where they would otherwise
// generate empty text (rope_theta -1) or run to the length limit (an EOS id no token has).
TEST(ModelConfig, ImpossibleValuesAreRefusedNamingTheField) {
  json j = base("llama");
  j["rope_theta"] = -1.0;
  EXPECT_NE(error_of(j).find("'rope_theta' must be positive, got -1"), std::string::npos) << error_of(j);
  j = base("llama");
  j["eos_token_id"] = {2, 1000};
  EXPECT_NE(error_of(j).find("eos_token_id: token id 1000 is outside the vocabulary of 1000"), std::string::npos)
      << error_of(j);
}

// tie_word_embeddings false with no lm_head.weight in the files: refused (mlx-lm's strict
// load refuses it too), not quietly tied.
TEST(ModelConfig, UntiedEmbeddingsWithoutAnLmHeadAreRefused) {
  const auto dir = std::filesystem::temp_directory_path() / ("mlxcpp-untied-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::copy(test::bundled_model(), dir);
  json cfg = read_json_file(dir / "config.json");
  cfg["tie_word_embeddings"] = false;
  write_file_atomic(dir / "config.json", cfg.dump());
  std::string e;
  try {
    Engine::load(dir);
  } catch (const Error& ex) {
    e = ex.what();
  }
  std::filesystem::remove_all(dir);
  EXPECT_NE(e.find("tie_word_embeddings is false but the weights have no lm_head.weight"), std::string::npos) << e;
}

TEST(ModelConfig, ArchitectureDefaultsFollowMlxLm) {
  json j = base("phi3");
  j.erase("tie_word_embeddings");
  j.erase("max_position_embeddings");
  ModelConfig c = parse_model_config(j, "x");
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_EQ(c.original_max_position_embeddings, 4096);
  EXPECT_EQ(c.head_dim, 32);  // hidden / heads, config head_dim ignored

  j = base("qwen2");
  j["head_dim"] = 99;  // ignored by qwen2
  c = parse_model_config(j, "x");
  EXPECT_TRUE(c.attention_bias);
  EXPECT_EQ(c.head_dim, 32);

  j = base("llama");
  j.erase("tie_word_embeddings");
  EXPECT_TRUE(parse_model_config(j, "x").tie_word_embeddings);  // mlx-lm's default

  j = base("gemma2");
  c = parse_model_config(j, "x");
  EXPECT_EQ(c.attn_logit_softcapping, 50.0);
  EXPECT_EQ(c.query_pre_attn_scalar, 144.0);
}

// Which layers are mixtures, how many experts a token takes and how their probabilities
// are scaled; impossible values named.
TEST(ModelConfig, MixtureOfExpertsFields) {
  json j = base("qwen3_moe");
  j["num_hidden_layers"] = 6;
  j["num_experts"] = 16, j["num_experts_per_tok"] = 4, j["moe_intermediate_size"] = 96;
  j["decoder_sparse_step"] = 2, j["mlp_only_layers"] = {3}, j["norm_topk_prob"] = true;
  ModelConfig c = parse_model_config(j, "x");
  EXPECT_EQ(c.experts, 16);
  EXPECT_EQ(c.experts_per_token, 4);
  EXPECT_EQ(c.expert_intermediate_size, 96);
  EXPECT_TRUE(c.normalize_top_k);
  // Every 2nd layer (1, 3, 5) but layer 3.
  EXPECT_EQ(c.moe_layers, (std::vector<bool>{false, true, false, false, false, true}));

  j = base("qwen3_moe");  // transformers' defaults
  c = parse_model_config(j, "x");
  EXPECT_EQ(c.experts, 128);
  EXPECT_EQ(c.experts_per_token, 8);
  EXPECT_EQ(c.expert_intermediate_size, 768);
  EXPECT_FALSE(c.normalize_top_k);
  EXPECT_EQ(c.moe_layers, (std::vector<bool>{true, true}));

  j = base("mixtral");
  j.erase("tie_word_embeddings");
  j["num_local_experts"] = 8, j["num_experts_per_tok"] = 2;
  c = parse_model_config(j, "x");
  EXPECT_EQ(c.experts, 8);
  EXPECT_EQ(c.expert_intermediate_size, 512);  // the dense width
  EXPECT_TRUE(c.normalize_top_k);
  EXPECT_FALSE(c.tie_word_embeddings);

  j = base("qwen3_moe");
  j["num_experts"] = 4, j["num_experts_per_tok"] = 5;
  EXPECT_NE(error_of(j).find("num_experts_per_tok 5 is more than the 4 experts"), std::string::npos) << error_of(j);
  j = base("qwen3_moe");
  j["mlp_only_layers"] = {2};
  EXPECT_NE(error_of(j).find("'mlp_only_layers' lists 2, not a layer of the 2"), std::string::npos) << error_of(j);
}

// gpt_oss's defaults: alternating sliding (even) and full layers, window 128, biases on the
// attention projections, an untied head; YaRN with truncate false read.
TEST(ModelConfig, GptOssDefaults) {
  json j = base("gpt_oss");
  j["num_hidden_layers"] = 4;
  j.erase("head_dim");
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 32.0}, {"truncate", false}};
  const ModelConfig c = parse_model_config(j, "x");
  EXPECT_EQ(c.layer_types, (std::vector<std::string>{"sliding_attention", "full_attention", "sliding_attention",
                                                     "full_attention"}));
  EXPECT_EQ(c.sliding_window, 128);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.experts, 128);
  EXPECT_EQ(c.experts_per_token, 4);
  EXPECT_TRUE(c.normalize_top_k);
  EXPECT_EQ(c.swiglu_limit, 7.0);
  ASSERT_TRUE(c.rope_scaling);
  EXPECT_FALSE(c.rope_scaling->truncate);
}

// YaRN's inverse frequencies and attention factor as transformers computes them
// (_compute_yarn_parameters), with the correction range rounded out (truncate, the
// default) and not (gpt-oss).
TEST(Rope, YarnFollowsTransformers) {
  for (const bool truncate : {true, false}) {
    SCOPED_TRACE(truncate ? "truncate" : "no truncate");
    json j = base("llama");
    j["head_dim"] = 64;
    j["rope_theta"] = 150000.0;
    j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 32.0}, {"beta_fast", 32.0}, {"beta_slow", 1.0},
                         {"original_max_position_embeddings", 4096}, {"truncate", truncate}};
    const ModelConfig c = parse_model_config(j, "x");
    const Rope rope(c);
    std::vector<float> inv;
    rope.append_inv_freq(100, inv);
    const double dim = 64, base = 150000, factor = 32, orig = 4096;
    auto correction = [&](double rotations) {
      return dim * std::log(orig / (rotations * 2 * M_PI)) / (2 * std::log(base));
    };
    double low = correction(32), high = correction(1);
    if (truncate) low = std::floor(low), high = std::ceil(high);
    low = std::max(low, 0.0), high = std::min(high, dim - 1);
    ASSERT_EQ(inv.size(), 32u);
    for (int i = 0; i < 32; ++i) {
      const double extrapolation = 1 / std::pow(base, 2 * i / dim), interpolation = extrapolation / factor;
      const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      const double want = interpolation * ramp + extrapolation * (1 - ramp);
      EXPECT_NEAR(inv[size_t(i)], want, want * 1e-6) << "pair " << i;
    }
    EXPECT_NEAR(rope.mscale(), 0.1 * std::log(32.0) + 1, 1e-6);
  }
}

TEST(ModelConfig, QuantizationOverrides) {
  json j = base("llama");
  j["quantization"] = {{"group_size", 64}, {"bits", 4}, {"mode", "affine"},
                       {"model.layers.0.mlp.down_proj", {{"group_size", nullptr}, {"bits", 6}}},
                       {"lm_head", {{"group_size", 64}, {"bits", 8}}},
                       {"model.layers.1.input_layernorm", false}};
  const ModelConfig c = parse_model_config(j, "x");
  const auto& q = c.quantization;
  EXPECT_EQ(q.spec_for("model.layers.0.mlp.down_proj", true), (QuantSpec{QuantMode::Affine, 6, 64}));
  EXPECT_EQ(q.spec_for("lm_head", true), (QuantSpec{QuantMode::Affine, 8, 64}));
  EXPECT_EQ(q.spec_for("model.layers.1.mlp.up_proj", true), (QuantSpec{QuantMode::Affine, 4, 64}));
  EXPECT_EQ(q.spec_for("model.layers.1.mlp.up_proj", false), std::nullopt);  // no .scales: not quantized
  EXPECT_EQ(q.spec_for("model.layers.1.input_layernorm", false), std::nullopt);
  EXPECT_THROW(q.spec_for("lm_head", false), Error);

  j["quantization"] = {{"group_size", 32}, {"bits", 4}, {"mode", "mxfp4"}};
  EXPECT_EQ(parse_model_config(j, "x").quantization.global, (QuantSpec{QuantMode::MxFp4, 4, 32}));
  j["quantization"] = {{"group_size", 64}, {"bits", 7}};
  EXPECT_NE(error_of(j).find("bits 2, 3, 4, 5, 6, 8, got 7"), std::string::npos);
  j["quantization"] = {{"group_size", 64}, {"bits", 4}, {"mode", "nvfp4"}};
  EXPECT_NE(error_of(j).find("nvfp4 requires bits 4 and group_size 16"), std::string::npos);
}

}  // namespace
}  // namespace mlxcpp
