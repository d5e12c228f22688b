// All tensors of a model directory, across its safetensors shards. With
// model.safetensors.index.json the shard list and every tensor's shard come from the
// index (and are checked against the files); without it, every model*.safetensors
// (and the legacy weights.*.safetensors) is loaded, as mlx-lm does.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "format/safetensors.h"

namespace mlxcpp {

class WeightSet {
 public:
  static WeightSet open(const std::filesystem::path& dir, Residency residency = Residency::PageCache);

  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  TensorView get(const std::string& name) const;  // throws Error naming the tensor
  std::vector<std::string> names() const;         // sorted
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }
  uint64_t file_bytes() const;                    // total size of the shard files
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const SafetensorsFile*> where_;
};

}  // namespace mlxcpp
