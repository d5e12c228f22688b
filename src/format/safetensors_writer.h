// Writing safetensors files. Tensors are declared first (name, dtype, shape and a fill
// function), so the header and layout are known before any data is produced; the data
// is then produced straight into a memory-mapped temporary file, in parallel, and the
// file is renamed into place only when complete.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "format/dtype.h"

namespace mlxcpp {

class SafetensorsWriter {
 public:
  using Fill = std::function<void(std::span<uint8_t> dst)>;
  // Fills several tensors in one job (e.g. a quantized weight with its scales and biases,
  // which one computation produces together).
  using GroupFill = std::function<void(std::vector<std::span<uint8_t>> dsts)>;
  struct Decl {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
  };

  void add(std::string name, DType dtype, std::vector<int64_t> shape, Fill fill);
  void add_group(std::vector<Decl> decls, GroupFill fill);
  void add_copy(std::string name, DType dtype, std::vector<int64_t> shape, std::span<const uint8_t> bytes);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

  uint64_t data_bytes() const { return data_bytes_; }
  size_t tensor_count() const { return tensors_.size(); }

  // Writes the file atomically, running fill functions on up to `threads` threads.
  void write(const std::filesystem::path& path, int threads = 1) const;

 private:
  struct Planned {
    Decl decl;
    uint64_t begin, end;
  };
  struct Job {
    std::vector<size_t> tensors;
    uint64_t bytes;
    GroupFill fill;
  };
  std::vector<Planned> tensors_;
  std::vector<Job> jobs_;
  std::map<std::string, std::string> metadata_;
  uint64_t data_bytes_ = 0;
};

}  // namespace mlxcpp
