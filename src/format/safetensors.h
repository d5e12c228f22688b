// Reading safetensors files. A file is untrusted input: the header is parsed and fully
// validated (bounded length, JSON object, known dtypes, shape × dtype = byte span,
// offsets inside the data section, no overlaps, no gaps) before any tensor is exposed.
// This layer knows nothing about models.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "format/dtype.h"
#include "util/mapped_file.h"

namespace mlxcpp {

// The safetensors reference implementation's limit on the JSON header.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

struct TensorEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t data_begin = 0;  // offset into the data section
  uint64_t data_end = 0;

  uint64_t nbytes() const { return data_end - data_begin; }
  int64_t numel() const;
};

struct SafetensorsHeader {
  uint64_t header_bytes = 0;  // length of the JSON header (without the 8-byte prefix)
  std::vector<TensorEntry> tensors;  // in file order of their data
  std::map<std::string, std::string> metadata;
};

// Parses and validates the header of a safetensors image of `size` bytes. `label` names
// the file in error messages. Throws Error; never reads outside [data, data+size).
SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size,
                                           const std::string& label);

// "[2, 3]": a shape as error messages show it.
std::string shape_to_string(const std::vector<int64_t>& shape);

// A read-only view of one tensor's bytes inside a mapped file. The bytes may be
// unaligned (the header length is arbitrary): read them with memcpy or via converters.
struct TensorView {
  const TensorEntry* entry = nullptr;
  const uint8_t* data = nullptr;

  const std::string& name() const { return entry->name; }
  DType dtype() const { return entry->dtype; }
  const std::vector<int64_t>& shape() const { return entry->shape; }
  size_t nbytes() const { return size_t(entry->nbytes()); }
  int64_t numel() const { return entry->numel(); }
  std::span<const uint8_t> bytes() const { return {data, nbytes()}; }
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path, Residency residency = Residency::PageCache);

  const std::string& path() const { return file_.path(); }
  const SafetensorsHeader& header() const { return header_; }
  const std::vector<TensorEntry>& entries() const { return header_.tensors; }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  TensorView tensor(const std::string& name) const;  // throws Error if absent
  size_t file_size() const { return file_.size(); }
  std::span<const uint8_t> bytes() const { return {file_.data(), file_.size()}; }  // the whole file as held
  void release_resident() const { file_.release_resident(); }
  Residency residency() const { return file_.residency(); }

 private:
  MappedFile file_;
  SafetensorsHeader header_;
  std::map<std::string, size_t> index_;
  const uint8_t* data_section_ = nullptr;
};

}  // namespace mlxcpp
