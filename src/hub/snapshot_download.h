// `pull`: a snapshot of a Hub repo into the standard cache (hf-hub.md §5–6), interoperable
// with Python's huggingface_hub. Files download in parallel into blobs/<etag>.incomplete,
// resume with Range across runs, are checked against the size and the etag's hash (sha256
// for LFS, git blob sha1 otherwise), then renamed into blobs/ and linked from
// snapshots/<commit>/ with relative symlinks. refs/<revision> is written last, so a ref
// always names a complete snapshot; trees/<commit>.json records the full file list so
// readers (ours and huggingface_hub ≥ 1.22) can tell a partial snapshot from a whole one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hub/hub_api.h"
#include "hub/hub_settings.h"

namespace mlxcpp {

struct PullOptions {
  std::string repo_id;
  std::string revision = "main";
  std::vector<std::string> include, exclude;  // fnmatch globs; '*' also matches '/'
};

struct PullPlan {
  std::string repo_id, revision, commit;
  std::vector<RepoFile> all_files;  // the whole commit
  std::vector<RepoFile> files;      // after include/exclude
  std::vector<RepoFile> missing;    // of `files`, those not yet in the snapshot
  uint64_t bytes_total = 0, bytes_missing = 0, weight_bytes = 0;
  bool from_cache_only = false;  // offline, or the Hub unreachable and the cache had it
  std::string note;
  nlohmann::json to_json() const;
};

struct PullEvent {
  enum Kind { FileStart, FileBytes, FileDone, FileRetry } kind = FileStart;
  std::string path;
  uint64_t file_bytes = 0, file_size = 0;
  uint64_t total_done = 0, total_size = 0;
  std::string message;
};

struct PullResult {
  PullPlan plan;
  std::filesystem::path snapshot;
  size_t downloaded_files = 0;
  size_t linked_files = 0;  // satisfied from blobs already in the cache
  uint64_t downloaded_bytes = 0;
  nlohmann::json to_json() const;
};

// Resolves the revision and lists what a pull would fetch. Offline (or with the Hub down
// and the snapshot cached) it answers from the cache. Throws HubError / Error.
PullPlan plan_pull(const HubSettings& settings, const PullOptions& options);

// Downloads what the plan lists as missing. `on_event` is called from worker threads
// (serialised by the caller's own lock if it needs one).
PullResult execute_pull(const HubSettings& settings, const PullPlan& plan,
                        const std::function<void(const PullEvent&)>& on_event = {});

// Python fnmatch semantics for the include/exclude lists (a trailing '/' means the folder).
bool path_selected(const std::string& path, const std::vector<std::string>& include,
                   const std::vector<std::string>& exclude);

}  // namespace mlxcpp
