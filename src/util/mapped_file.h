// A read-only memory mapping of a whole file. Weights are used in place from the page
// cache, which makes loading near-instant and keeps peak RSS at what is touched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mlxcpp {

class MappedFile {
 public:
  // Throws Error naming the path when it cannot be opened or mapped.
  static MappedFile open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Drops this process's resident pages of the file (they are read again if touched): for
  // weights that now live elsewhere, such as in GPU memory.
  void release_resident() const;

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace mlxcpp
