// The two ways a weights file is held (util/mapped_file.h): mmapped from the page cache, or
// read into 2 MiB-aligned private memory for huge pages — the same
// bytes either way, read in parallel slices for large files, and errors that name the file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "util/error.h"
#include "runtime/engine.h"
#include "runtime/tuning.h"
#include "test_support.h"
#include "util/mapped_file.h"

namespace mlxcpp {
namespace {

namespace fs = std::filesystem;

fs::path write_pattern(const std::string& name, size_t bytes) {
  const fs::path p = fs::temp_directory_path() / (name + "." + std::to_string(::getpid()));
  std::vector<uint8_t> data(bytes);
  uint32_t x = 2463534242u;  // xorshift: no two slices alike
  for (auto& b : data) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    b = uint8_t(x);
  }
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(data.data()), std::streamsize(bytes));
  return p;
}

bool transparent_huge_pages_on() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string s;
  std::getline(f, s);
  return !s.empty() && s.find("[never]") == std::string::npos;
}

TEST(MappedFile, HugePagesHoldTheSameBytesAsTheMapping) {
  // 130 MiB and a bit: more than one parallel slice, and a size that is not whole pages.
  for (const size_t bytes : {size_t(0), size_t(5), (size_t(130) << 20) + 12345}) {
    SCOPED_TRACE(std::to_string(bytes) + " bytes");
    const fs::path p = write_pattern("mapped_file_test", bytes);
    const MappedFile mapped = MappedFile::open(p.string(), Residency::PageCache);
    const MappedFile copy = MappedFile::open(p.string(), Residency::HugePages);
    ASSERT_EQ(copy.size(), bytes);
    if (bytes) EXPECT_EQ(std::memcmp(copy.data(), mapped.data(), bytes), 0);
    if (bytes && transparent_huge_pages_on()) {
      EXPECT_EQ(copy.residency(), Residency::HugePages);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(copy.data()) % (uintptr_t(2) << 20), 0u) << "huge pages need 2 MiB alignment";
    }
    copy.release_resident();  // a private copy cannot be read again: it must stay
    if (bytes) EXPECT_EQ(std::memcmp(copy.data(), mapped.data(), bytes), 0);
    fs::remove(p);
  }
}

// MLXCPP_HUGE_PAGES=0, read by the front end, reaches the engine as an option: the CPU
// backend's copy of the weights is then on ordinary pages. The files stay mapped from the
// page cache either way.
TEST(MappedFile, HugePagesCanBeTurnedOff) {
  ::setenv("MLXCPP_HUGE_PAGES", "0", 1);
  const Tuning t = tuning_from_environment();
  ::unsetenv("MLXCPP_HUGE_PAGES");
  EXPECT_FALSE(t.huge_pages);
  EngineOptions options;
  apply_tuning(t, options);
  auto engine = Engine::load(test::bundled_model(), options);
  for (const auto& f : engine->model().weights().files()) EXPECT_EQ(f->residency(), Residency::PageCache);
  EXPECT_EQ(engine->device_description().find("huge pages"), std::string::npos) << engine->device_description();
  auto with = Engine::load(test::bundled_model(), {});
  if (transparent_huge_pages_on())
    EXPECT_NE(with->device_description().find("on huge pages"), std::string::npos) << with->device_description();
}

TEST(MappedFile, AMissingFileIsNamed) {
  for (const Residency r : {Residency::PageCache, Residency::HugePages}) {
    try {
      MappedFile::open("/nonexistent/weights.safetensors", r);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("/nonexistent/weights.safetensors: cannot open"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace mlxcpp
