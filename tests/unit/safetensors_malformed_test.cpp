// Malformed safetensors files: each must give a clear error naming the file and (where
// there is one) the tensor at fault, never a crash. Each case is built byte by byte here,
// so the test is its own fixture generator.
#include <gtest/gtest.h>

#include "format/safetensors.h"
#include "test_support.h"
#include "util/error.h"

namespace mlxcpp {
namespace {

struct Case {
  const char* name;
  std::string bytes;
  const char* expect;  // substring of the error message
};

std::string img(const std::string& header, size_t data_bytes) {
  return test::safetensors_image(header, std::string(data_bytes, '\0'));
}

std::string with_length(uint64_t n, const std::string& rest) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return out + rest;
}

std::vector<Case> cases() {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string deep(200, '[');
  return {
      {"empty_file", "", "too short"},
      {"seven_bytes", std::string(7, '\0'), "too short"},
      {"huge_header_length", with_length(uint64_t(1) << 40, "{}"), "exceeds the limit"},
      {"header_longer_than_file", with_length(100, "{}"), "exceeds the 2 bytes"},
      {"truncated_data", img(ok, 4), "reach past the data section"},
      {"not_json", img("{not json}", 0), "not valid JSON"},
      {"not_an_object", img("[1,2,3]", 0), "does not start with '{'"},
      {"bad_dtype", img(R"({"a":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype 'F17'"},
      {"missing_dtype", img(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8), "'dtype'"},
      {"wrong_byte_span", img(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "needs 12 bytes"},
      {"negative_dim", img(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "non-negative integer"},
      {"float_dim", img(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8), "non-negative integer"},
      {"shape_overflow",
       img(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8), "overflows"},
      {"offsets_reversed", img(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8), "end before they begin"},
      {"offsets_not_pair", img(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8), "two non-negative"},
      {"overlap",
       img(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
           12),
       "overlaps"},
      {"gap",
       img(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
           12),
       "unused bytes"},
      {"trailing_data", img(ok, 16), "cover only 8"},
      {"duplicate_tensor",
       img(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
       "declared twice"},
      {"metadata_not_strings", img(R"({"__metadata__":{"k":1}})", 0), "not a string"},
      {"entry_not_object", img(R"({"a":7})", 0), "not an object"},
      {"unknown_field", img(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8), "unknown field 'x'"},
      {"deep_nesting", img("{\"__metadata__\":" + deep, 0), "nests deeper"},
      {"invalid_utf8", img("{\"a\xff\":{}}", 0), "not valid JSON"},
      {"rank_too_high", img(R"({"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})", 1),
       "rank 17"},
  };
}

TEST(SafetensorsMalformed, EveryCaseIsAClearError) {
  test::TempDir dir;
  const auto all = cases();
  ASSERT_GE(all.size(), 20u);
  for (const auto& c : all) {
    const auto path = dir / (std::string(c.name) + ".safetensors");
    test::write_bytes(path, c.bytes);
    try {
      SafetensorsFile::open(path.string());
      ADD_FAILURE() << c.name << ": accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(path.string()), std::string::npos) << c.name << ": message does not name the file: " << msg;
      EXPECT_NE(msg.find(c.expect), std::string::npos) << c.name << ": " << msg;
    }
  }
}

TEST(SafetensorsMalformed, ErrorsNameTheTensor) {
  test::TempDir dir;
  const auto path = dir / "t.safetensors";
  test::write_bytes(path, img(R"({"model.layers.3.mlp.up_proj.weight":{"dtype":"BF16","shape":[4],"data_offsets":[0,6]}})", 6));
  try {
    SafetensorsFile::open(path.string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'model.layers.3.mlp.up_proj.weight'"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsMalformed, ValidEdgeCasesAreAccepted) {
  test::TempDir dir;
  const auto path = dir / "ok.safetensors";
  // Padding spaces after the JSON, zero-sized tensors sharing an offset, an empty file list.
  test::write_bytes(path, img(R"({"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}   )", 4));
  EXPECT_EQ(SafetensorsFile::open(path.string()).entries().size(), 2u);
  test::write_bytes(path, img("{}", 0));
  EXPECT_TRUE(SafetensorsFile::open(path.string()).entries().empty());
}

}  // namespace
}  // namespace mlxcpp
