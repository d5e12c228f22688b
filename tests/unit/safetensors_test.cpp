// Reading real files and writer round trips for every dtype, sharded sets included.
#include "format/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "format/safetensors_writer.h"
#include "format/weight_set.h"
#include "test_support.h"
#include "util/error.h"

namespace mlxcpp {
namespace {

using test::TempDir;

TEST(Safetensors, ReadsTheBundledMlxModel) {
  const auto f = SafetensorsFile::open((test::bundled_model() / "model.safetensors").string());
  EXPECT_EQ(f.entries().size(), 96u);
  EXPECT_EQ(f.header().metadata.at("format"), "mlx");
  const TensorView w = f.tensor("model.embed_tokens.weight");
  EXPECT_EQ(w.dtype(), DType::U32);
  EXPECT_EQ(w.shape(), (std::vector<int64_t>{2048, 16}));
  EXPECT_EQ(w.nbytes(), 2048u * 16 * 4);
  const TensorView s = f.tensor("model.embed_tokens.scales");
  EXPECT_EQ(s.dtype(), DType::BF16);
  EXPECT_THROW(f.tensor("no.such.tensor"), Error);
}

TEST(Safetensors, WriterRoundTripsEveryDtype) {
  TempDir dir;
  const std::vector<DType> all = {DType::F64,  DType::F32,  DType::F16, DType::BF16, DType::I64,
                                  DType::I32,  DType::I16,  DType::I8,  DType::U8,   DType::U16,
                                  DType::U32,  DType::U64,  DType::BOOL, DType::F8_E4M3, DType::F8_E5M2};
  SafetensorsWriter w;
  w.set_metadata("format", "test");
  std::vector<std::string> payloads;
  for (size_t i = 0; i < all.size(); ++i) {
    const size_t n = dtype_size(all[i]) * 6;
    std::string bytes(n, '\0');
    for (size_t k = 0; k < n; ++k) bytes[k] = char((k * 7 + i) & 0xff);
    if (all[i] == DType::BOOL) for (auto& c : bytes) c = char(c & 1);
    payloads.push_back(bytes);
  }
  for (size_t i = 0; i < all.size(); ++i)
    w.add_copy("t" + std::to_string(i), all[i], {2, 3},
               std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payloads[i].data()), payloads[i].size()));
  w.add("empty", DType::F32, {0, 4}, [](std::span<uint8_t>) {});
  w.write(dir / "x.safetensors", 3);
  const auto f = SafetensorsFile::open((dir / "x.safetensors").string());
  EXPECT_EQ(f.header().metadata.at("format"), "test");
  for (size_t i = 0; i < all.size(); ++i) {
    const TensorView t = f.tensor("t" + std::to_string(i));
    EXPECT_EQ(t.dtype(), all[i]);
    EXPECT_EQ(t.shape(), (std::vector<int64_t>{2, 3}));
    ASSERT_EQ(t.nbytes(), payloads[i].size());
    EXPECT_EQ(std::memcmp(t.data, payloads[i].data(), t.nbytes()), 0) << dtype_name(all[i]);
  }
  EXPECT_EQ(f.tensor("empty").nbytes(), 0u);
  // The data section starts 8-byte aligned, as MLX writes it.
  EXPECT_EQ((8 + f.header().header_bytes) % 8, 0u);
}

TEST(Safetensors, WriterLeavesNothingBehindWhenAFillFails) {
  TempDir dir;
  SafetensorsWriter w;
  w.add("a", DType::F32, {4}, [](std::span<uint8_t>) { throw Error("boom"); });
  EXPECT_THROW(w.write(dir / "y.safetensors"), Error);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

void write_tensor(const std::filesystem::path& p, const std::vector<std::string>& names) {
  SafetensorsWriter w;
  for (const auto& n : names) w.add(n, DType::F32, {2}, [](std::span<uint8_t> d) { std::memset(d.data(), 0, d.size()); });
  w.write(p);
}

TEST(WeightSet, ReadsShardsThroughTheIndex) {
  TempDir dir;
  write_tensor(dir / "model-00001-of-00002.safetensors", {"a", "b"});
  write_tensor(dir / "model-00002-of-00002.safetensors", {"c"});
  nlohmann::json index = {{"metadata", {{"total_size", 24}}},
                          {"weight_map", {{"a", "model-00001-of-00002.safetensors"},
                                          {"b", "model-00001-of-00002.safetensors"},
                                          {"c", "model-00002-of-00002.safetensors"}}}};
  test::write_bytes(dir / "model.safetensors.index.json", index.dump());
  const WeightSet ws = WeightSet::open(dir.path());
  EXPECT_EQ(ws.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ws.files().size(), 2u);

  index["weight_map"]["c"] = "model-00001-of-00002.safetensors";
  test::write_bytes(dir / "model.safetensors.index.json", index.dump());
  try {
    WeightSet::open(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'c'"), std::string::npos) << e.what();
  }
  index["weight_map"]["c"] = "../escape.safetensors";
  test::write_bytes(dir / "model.safetensors.index.json", index.dump());
  EXPECT_THROW(WeightSet::open(dir.path()), Error);
}

TEST(WeightSet, GlobsShardsWithoutAnIndexAndRejectsDuplicates) {
  TempDir dir;
  write_tensor(dir / "model-1.safetensors", {"a"});
  write_tensor(dir / "model-2.safetensors", {"b"});
  EXPECT_EQ(WeightSet::open(dir.path()).names().size(), 2u);
  write_tensor(dir / "model-3.safetensors", {"a"});
  try {
    WeightSet::open(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'a' is in both"), std::string::npos) << e.what();
  }
}

TEST(WeightSet, EmptyDirectoryIsAClearError) {
  TempDir dir;
  try {
    WeightSet::open(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no model*.safetensors"), std::string::npos);
  }
}

}  // namespace
}  // namespace mlxcpp
