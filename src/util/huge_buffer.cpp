#include "util/huge_buffer.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include "util/error.h"

namespace mlxcpp {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}

bool huge_pages_usable() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string setting;
  std::getline(f, setting);
  return !setting.empty() && setting.find("[never]") == std::string::npos;
}

HugeBuffer HugeBuffer::allocate(size_t bytes, bool huge_pages, const char* what) {
  HugeBuffer b;
  if (bytes == 0) return b;
  b.huge_ = huge_pages && huge_pages_usable();
  // The kernel places huge pages only at 2 MiB aligned addresses: map one more and align.
  const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  b.region_size_ = b.huge_ ? rounded + kHugePage : bytes;
  void* p = ::mmap(nullptr, b.region_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("{}: cannot allocate {} bytes: {}", what, bytes, std::strerror(errno));
  b.region_ = p;
  b.size_ = bytes;
  if (b.huge_) {
    b.data_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + kHugePage - 1) / kHugePage * kHugePage);
    ::madvise(b.data_, rounded, MADV_HUGEPAGE);  // advice: without it the memory still works, on small pages
  } else {
    b.data_ = static_cast<uint8_t*>(p);
  }
  return b;
}

void HugeBuffer::protect() const {
  if (data_) ::mprotect(data_, (size_ + 4095) / 4096 * 4096, PROT_READ);
}

HugeBuffer::HugeBuffer(HugeBuffer&& other) noexcept { *this = std::move(other); }

HugeBuffer& HugeBuffer::operator=(HugeBuffer&& other) noexcept {
  if (this != &other) {
    if (region_) ::munmap(region_, region_size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    region_ = std::exchange(other.region_, nullptr);
    region_size_ = std::exchange(other.region_size_, 0);
    huge_ = other.huge_;
  }
  return *this;
}

HugeBuffer::~HugeBuffer() {
  if (region_) ::munmap(region_, region_size_);
}

}  // namespace mlxcpp
