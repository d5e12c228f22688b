#include "format/weight_set.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {
namespace fs = std::filesystem;

namespace {

bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name.find('/') == std::string::npos && name.find('\\') == std::string::npos &&
         name != "." && name != "..";
}

}  // namespace

WeightSet WeightSet::open(const fs::path& dir, Residency residency) {
  WeightSet ws;
  ws.dir_ = dir;
  if (!fs::is_directory(dir)) fail("{}: not a model directory", dir.string());
  const fs::path index_path = dir / "model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;  // tensor → shard file name
  std::vector<std::string> shard_names;
  if (fs::exists(index_path)) {
    const nlohmann::json index = read_json_file(index_path);
    const std::string label = index_path.string();
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      fail("{}: missing or invalid 'weight_map'", label);
    std::set<std::string> unique;
    for (const auto& [tensor, file] : index["weight_map"].items()) {
      if (!file.is_string()) fail("{}: weight_map['{}'] is not a string", label, tensor);
      const std::string f = file.get<std::string>();
      if (!is_plain_file_name(f)) fail("{}: weight_map['{}'] = '{}' is not a file name in the model directory", label, tensor, f);
      weight_map[tensor] = f;
      unique.insert(f);
    }
    shard_names.assign(unique.begin(), unique.end());
  } else {
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      const bool model_glob = name.starts_with("model") && name.ends_with(".safetensors");
      const bool legacy = name.starts_with("weights.") && name.ends_with(".safetensors");
      if ((model_glob || legacy) && entry.is_regular_file()) shard_names.push_back(name);
    }
    std::sort(shard_names.begin(), shard_names.end());
    if (shard_names.empty())
      fail("{}: no model*.safetensors files and no model.safetensors.index.json", dir.string());
  }

  for (const auto& name : shard_names) {
    const fs::path p = dir / name;
    if (!fs::exists(p)) fail("{}: shard '{}' named by the index does not exist", index_path.string(), name);
    ws.files_.push_back(std::make_unique<SafetensorsFile>(SafetensorsFile::open(p.string(), residency)));
    const SafetensorsFile* f = ws.files_.back().get();
    for (const auto& e : f->entries()) {
      const auto [it, inserted] = ws.where_.emplace(e.name, f);
      if (!inserted) fail("tensor '{}' is in both {} and {}", e.name, it->second->path(), f->path());
      if (!weight_map.empty()) {
        const auto m = weight_map.find(e.name);
        if (m == weight_map.end())
          fail("{}: tensor '{}' of {} is not in the index's weight_map", index_path.string(), e.name, name);
        if (m->second != name)
          fail("{}: index places tensor '{}' in {}, but it is in {}", index_path.string(), e.name, m->second, name);
      }
    }
  }
  for (const auto& [tensor, file] : weight_map)
    if (!ws.where_.count(tensor))
      fail("{}: tensor '{}' is listed for {} but that file does not contain it", index_path.string(), tensor, file);
  return ws;
}

TensorView WeightSet::get(const std::string& name) const {
  const auto it = where_.find(name);
  if (it == where_.end()) fail("{}: the model has no tensor '{}'", dir_.string(), name);
  return it->second->tensor(name);
}

std::vector<std::string> WeightSet::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& [n, _] : where_) out.push_back(n);
  return out;
}

uint64_t WeightSet::file_bytes() const {
  uint64_t total = 0;
  for (const auto& f : files_) total += f->file_size();
  return total;
}

}  // namespace mlxcpp
