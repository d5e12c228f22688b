// A whole file's bytes in memory, read-only. Two ways to hold them:
//  - PageCache: mmapped and used in place from the page cache — near-instant to open,
//    shared with other processes, peak RSS only what is touched. The engine's way: each
//    backend copies the weights into its own memory (the GPU's; the CPU backend's huge
//    pages, backend/cpu/resident_weights.h) and the file's pages are dropped.
//  - HugePages: read into private memory in 2 MiB transparent huge pages
//    (util/huge_buffer.h says why streamed data wants them), for a reader that uses the
//    file's bytes in place for long. It costs reading the file at open and the sharing of
//    the page cache. Where the kernel has transparent huge pages off ("never"), HugePages
//    falls back to PageCache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "util/huge_buffer.h"

namespace mlxcpp {

enum class Residency { PageCache, HugePages };

class MappedFile {
 public:
  // Throws Error naming the path when it cannot be opened, mapped or read.
  static MappedFile open(const std::string& path, Residency residency = Residency::PageCache);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  Residency residency() const { return residency_; }
  // Drops this process's resident pages of a PageCache file (they are read again if
  // touched): for weights that now live elsewhere, such as in GPU memory. A HugePages copy
  // could not be read again, so it stays.
  void release_resident() const;

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* region_ = nullptr;  // PageCache: the mapping
  size_t region_size_ = 0;
  HugeBuffer copy_;  // HugePages: the file's bytes
  Residency residency_ = Residency::PageCache;
  std::string path_;
};

}  // namespace mlxcpp
