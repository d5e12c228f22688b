// Hardware detection reads real facts of the machine; the test checks their consistency
// against the kernel's own figures and that a cgroup limit caps the usable memory.
#include "hardware/hardware.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace mlxcpp {
namespace {

TEST(Hardware, FiguresAreConsistentWithTheKernel) {
  const HardwareInfo h = detect_hardware();
  EXPECT_EQ(h.logical_cores, int(sysconf(_SC_NPROCESSORS_ONLN)));
  const uint64_t total = uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(h.ram_total_bytes / (1 << 20), total / (1 << 20));
  EXPECT_GT(h.ram_available_bytes, 0u);
  EXPECT_LE(h.ram_available_bytes, h.ram_total_bytes);
  EXPECT_LE(h.usable_ram_bytes(), h.ram_available_bytes);
  EXPECT_FALSE(h.cache_dir.empty());
  EXPECT_TRUE(h.to_json().contains("simd"));
}

TEST(Hardware, CgroupLimitCapsUsableMemory) {
  HardwareInfo h;
  h.ram_available_bytes = 16ull << 30;
  h.cgroup_limit_bytes = 4ull << 30;
  EXPECT_EQ(h.usable_ram_bytes(), 4ull << 30);
  h.cgroup_limit_bytes = 0;
  EXPECT_EQ(h.usable_ram_bytes(), 16ull << 30);
}

}  // namespace
}  // namespace mlxcpp
