#include "test_support.h"

#include <unistd.h>

#include <cctype>
#include <fstream>
#include <random>

namespace mlxcpp::test {
namespace fs = std::filesystem;

fs::path data_dir() { return MLXCPP_TEST_DATA; }
fs::path bundled_model() { return MLXCPP_BUNDLED_MODEL; }

TempDir::TempDir() {
  std::random_device rd;
  path_ = fs::temp_directory_path() / ("mlxcpp-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string safetensors_image(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((n >> (8 * i)) & 0xff);
  return out + header + data;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string param_name(std::string name) {
  for (auto& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

}  // namespace mlxcpp::test
