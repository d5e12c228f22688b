// Which models a server may load, and the loaded ones. A request names a model by the
// served id (or "" for the default), by a repo id in the Hugging Face cache, or — only
// when the server was started with --allow-paths DIR… — by a directory inside one of
// those (absolute, or relative to one; symlinks resolved, so none leads out). Anything
// else is the same 404, carrying the resolver's suggestions, whether or not such a
// directory exists; nothing is downloaded on a request's behalf.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/model_host.h"

namespace mlxcpp {

struct RegistryOptions {
  HostOptions host;
  std::vector<std::filesystem::path> allowed_dirs;  // where model directories may be named
  size_t max_loaded = 2;  // loaded models kept (least recently used is unloaded)
};

// `requested` as a directory inside one of `roots` (after resolving every symlink), or
// nothing.
std::optional<std::filesystem::path> allowed_model_dir(const std::string& requested,
                                                       const std::vector<std::filesystem::path>& roots);

class ModelRegistry {
 public:
  // Loads the default model now: `default_id` is what clients call it.
  ModelRegistry(std::string default_id, const std::filesystem::path& default_dir, RegistryOptions options);

  // The host for a requested name; throws ApiError 404 (with suggestions) when not allowed.
  std::shared_ptr<ModelHost> get(const std::string& requested);
  const std::string& default_id() const { return default_id_; }
  // The default model plus every model in the cache: OpenAI's /v1/models objects.
  nlohmann::json list() const;
  // The scheduler figures of every loaded model, summed.
  HostStats stats() const;

 private:
  std::string default_id_;
  RegistryOptions options_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<ModelHost>> loaded_;  // most recently used first; [default] pinned at the end
  std::shared_ptr<ModelHost> default_host_;
};

// "org/name" for a snapshot directory of the HF cache, else the directory's name.
std::string model_id_for_dir(const std::filesystem::path& dir);

}  // namespace mlxcpp
