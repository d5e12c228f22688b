// The Hugging Face hub cache on disk (hf-hub.md §5): where it is, how repo ids map to
// folders, and how a revision resolves to a snapshot directory. Shared by model
// location (here) and the download client (which writes the same layout).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlxcpp {

struct RepoRef {
  std::string repo_id;            // "org/name"
  std::string revision = "main";  // branch, tag or 40-hex commit
};

// Parses "org/name[@revision]". Throws Error for ids the Hub would reject and for
// anything that could escape the cache (.., absolute paths, backslashes, "--").
RepoRef parse_repo_ref(std::string_view text);
bool looks_like_repo_id(std::string_view text);  // shape check only, no throw

// The value of an environment variable, "" when unset.
std::string env_string(const char* name);

// HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
// ~/.cache/huggingface/hub — the first that is set.
std::filesystem::path hub_cache_dir();

// <cache>/models--org--name
std::filesystem::path repo_folder(const std::filesystem::path& cache, std::string_view repo_id);

// The snapshot directory of a revision, if present in the cache.
std::optional<std::filesystem::path> find_snapshot(const std::filesystem::path& cache, const RepoRef& ref);

// A full 40-hex lowercase commit id.
bool is_commit_hash(std::string_view text);

// The repo ids of the models with at least one snapshot in the cache, sorted.
std::vector<std::string> cached_model_ids(const std::filesystem::path& cache);

// A model given as a local directory or a repo id in the cache. Throws Error saying
// where it looked when neither exists.
std::filesystem::path locate_model(std::string_view spec);
// The snapshot of a repo id in the Hugging Face cache, never a path: for names that come
// from the network.
std::filesystem::path locate_cached_model(std::string_view spec);

}  // namespace mlxcpp
