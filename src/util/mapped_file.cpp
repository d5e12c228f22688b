#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <utility>

#include "util/error.h"

namespace mlxcpp {

MappedFile MappedFile::open(const std::string& path, Residency residency) {
  if (residency == Residency::HugePages && !huge_pages_usable()) residency = Residency::PageCache;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail("{}: cannot stat: {}", path, std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("{}: not a regular file", path);
  }
  MappedFile f;
  f.path_ = path;
  f.size_ = size_t(st.st_size);
  f.residency_ = residency;
  if (f.size_ == 0) {
    ::close(fd);
    return f;
  }
  if (residency == Residency::PageCache) {
    void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      fail("{}: cannot mmap {} bytes: {}", path, f.size_, std::strerror(err));
    }
    f.region_ = p, f.region_size_ = f.size_;
    f.data_ = static_cast<const uint8_t*>(p);
    ::close(fd);  // the mapping keeps the file alive
    return f;
  }
  // HugePages: the file read into anonymous memory on huge pages.
  try {
    f.copy_ = HugeBuffer::allocate(f.size_, true, path.c_str());
  } catch (...) {
    ::close(fd);
    throw;
  }
  uint8_t* at = f.copy_.data();
  // Read in parallel slices: copying from the page cache and faulting in the huge pages
  // (the kernel zeroes each) is CPU work, which more cores shorten.
  const size_t readers_max = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  const size_t slices = std::clamp<size_t>(f.size_ / (size_t(64) << 20), 1, readers_max);  // >= 64 MiB each
  constexpr size_t kHugePage = size_t(2) << 20;
  const size_t slice = (f.size_ / slices + kHugePage - 1) / kHugePage * kHugePage;
  std::vector<std::string> errors(slices);
  std::vector<std::thread> readers;
  for (size_t k = 0; k < slices; ++k)
    readers.emplace_back([&, k] {
      const size_t end = std::min(f.size_, (k + 1) * slice);
      for (size_t done = k * slice; done < end;) {
        const ssize_t n = ::pread(fd, at + done, std::min<size_t>(end - done, size_t(1) << 30), off_t(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          errors[k] = fmt::format("cannot read byte {} of {}: {}", done, f.size_, n < 0 ? std::strerror(errno) : "the file ended early");
          return;
        }
        done += size_t(n);
      }
    });
  for (auto& t : readers) t.join();
  for (const std::string& e : errors)
    if (!e.empty()) {
      ::close(fd);
      f.copy_ = HugeBuffer();
      fail("{}: {}", path, e);
    }
  ::close(fd);
  f.copy_.protect();  // read-only like a mapping: a stray write faults
  f.data_ = at;
  return f;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (region_) ::munmap(region_, region_size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    region_ = std::exchange(other.region_, nullptr);
    region_size_ = std::exchange(other.region_size_, 0);
    copy_ = std::move(other.copy_);
    residency_ = other.residency_;
    path_ = std::move(other.path_);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (region_) ::munmap(region_, region_size_);
}

void MappedFile::release_resident() const {
  // Advice only: a failure leaves the pages resident, which is correct, just larger.
  if (residency_ == Residency::PageCache && data_ && size_) ::madvise(const_cast<uint8_t*>(data_), size_, MADV_DONTNEED);
}

}  // namespace mlxcpp
