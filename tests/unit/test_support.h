// Helpers shared by the unit tests: fixture paths, temporary directories, and
// building safetensors images byte by byte (for malformed-file tests).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mlxcpp::test {

std::filesystem::path data_dir();       // tests/data
std::filesystem::path bundled_model();  // models/fortune-tiny-mlx-4bit-g64

// A fresh directory removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// 8-byte little-endian length + header text + data.
std::string safetensors_image(const std::string& header, const std::string& data);
void write_bytes(const std::filesystem::path& path, const std::string& bytes);

// A gtest parameter name from a fixture name ("llama3.1" → "llama3_1").
std::string param_name(std::string name);

}  // namespace mlxcpp::test
