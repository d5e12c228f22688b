#include "hub/hf_cache.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace mlxcpp {
namespace fs = std::filesystem;

std::string env_string(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

namespace {

fs::path expand_user(const std::string& p) {
  if (p.starts_with("~/") || p == "~") return fs::path(env_string("HOME")) / p.substr(p.size() > 1 ? 2 : 1);
  return fs::path(p);
}

bool is_hex40(std::string_view s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool valid_name_part(std::string_view s) {
  if (s.empty() || s.size() > 96) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  // The Hub refuses names that start or end with '-' or '.', or contain "--" / "..".
  if (s.front() == '-' || s.front() == '.' || s.back() == '-' || s.back() == '.') return false;
  return s.find("--") == std::string_view::npos && s.find("..") == std::string_view::npos;
}

void validate_revision(const std::string& rev, std::string_view text) {
  if (rev.empty()) fail("'{}': empty revision after '@'", text);
  if (rev.front() == '/' || rev.find('\\') != std::string::npos || rev.find("..") != std::string::npos)
    fail("'{}': revision '{}' is not a valid git reference", text, rev);
  for (unsigned char c : rev)
    if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' || c == '[')
      fail("'{}': revision '{}' contains a character git does not allow", text, rev);
}

// A snapshot a download left half-done (trees/<commit>.json lists what the commit has)
// must not be loaded: config.json and every weight file it lists must be present.
void check_snapshot_complete(const fs::path& snap, const std::string& repo_id) {
  const fs::path tree = snap.parent_path().parent_path() / "trees" / (snap.filename().string() + ".json");
  if (!fs::is_regular_file(tree)) return;
  std::ifstream in(tree);
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("files") || !j["files"].is_object()) return;
  for (const auto& [path, info] : j["files"].items()) {
    const bool needed = path == "config.json" || (path.ends_with(".safetensors") && path.find('/') == std::string::npos);
    if (needed && !fs::exists(snap / path))
      fail("model '{}': the cached snapshot {} is incomplete ({} is missing); run 'mlxcpp pull {}' to finish it",
           repo_id, snap.string(), path, repo_id);
  }
}

}  // namespace

bool looks_like_repo_id(std::string_view text) {
  const auto at = text.find('@');
  const std::string_view id = text.substr(0, at);
  const auto slash = id.find('/');
  if (slash == std::string_view::npos || id.find('/', slash + 1) != std::string_view::npos) return false;
  return valid_name_part(id.substr(0, slash)) && valid_name_part(id.substr(slash + 1));
}

RepoRef parse_repo_ref(std::string_view text) {
  RepoRef ref;
  const auto at = text.find('@');
  const std::string_view id = text.substr(0, at);
  if (!looks_like_repo_id(id))
    fail("'{}' is not a valid repo id: expected 'org/name' with letters, digits, '-', '_', '.' (no '--' or '..')",
         text);
  ref.repo_id = std::string(id);
  if (at != std::string_view::npos) {
    ref.revision = std::string(text.substr(at + 1));
    validate_revision(ref.revision, text);
  }
  return ref;
}

fs::path hub_cache_dir() {
  if (auto v = env_string("HF_HUB_CACHE"); !v.empty()) return expand_user(v);
  if (auto v = env_string("HUGGINGFACE_HUB_CACHE"); !v.empty()) return expand_user(v);
  if (auto v = env_string("HF_HOME"); !v.empty()) return expand_user(v) / "hub";
  if (auto v = env_string("XDG_CACHE_HOME"); !v.empty()) return fs::path(v) / "huggingface" / "hub";
  return fs::path(env_string("HOME")) / ".cache" / "huggingface" / "hub";
}

fs::path repo_folder(const fs::path& cache, std::string_view repo_id) {
  std::string folder = "models--";
  for (char c : repo_id) {
    if (c == '/') folder += "--";
    else folder += c;
  }
  return cache / folder;
}

std::optional<fs::path> find_snapshot(const fs::path& cache, const RepoRef& ref) {
  const fs::path repo = repo_folder(cache, ref.repo_id);
  std::string commit = ref.revision;
  const fs::path ref_file = repo / "refs" / ref.revision;
  if (fs::is_regular_file(ref_file)) {
    std::ifstream in(ref_file);
    std::getline(in, commit);
    while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
    if (!is_hex40(commit))
      fail("{}: does not hold a 40-hex commit id (corrupt cache?)", ref_file.string());
  }
  const fs::path snap = repo / "snapshots" / commit;
  if (fs::is_directory(snap)) return snap;
  return std::nullopt;
}

bool is_commit_hash(std::string_view text) { return is_hex40(text); }

std::vector<std::string> cached_model_ids(const fs::path& cache) {
  std::vector<std::string> ids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cache, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("models--") || !fs::is_directory(entry.path() / "snapshots")) continue;
    std::string id = name.substr(8);
    const auto sep = id.find("--");
    if (sep == std::string::npos) continue;
    id = id.substr(0, sep) + "/" + id.substr(sep + 2);
    if (!fs::is_empty(entry.path() / "snapshots", ec)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

fs::path locate_model(std::string_view spec) {
  const fs::path local{std::string(spec)};
  if (fs::is_directory(local)) return local;
  if (!looks_like_repo_id(spec)) {
    if (fs::exists(local)) fail("{}: is a file; a model is a directory (or a repo id 'org/name')", spec);
    fail("{}: no such model directory, and not a repo id of the form 'org/name[@revision]'", spec);
  }
  return locate_cached_model(spec);
}

fs::path locate_cached_model(std::string_view spec) {
  if (!looks_like_repo_id(spec)) fail("'{}' is not a repo id of the form 'org/name[@revision]'", spec);
  const RepoRef ref = parse_repo_ref(spec);
  const fs::path cache = hub_cache_dir();
  if (auto snap = find_snapshot(cache, ref)) {
    check_snapshot_complete(*snap, ref.repo_id);
    return *snap;
  }
  fail("model '{}' (revision '{}') is not in the Hugging Face cache: looked in {} (set HF_HUB_CACHE or HF_HOME "
       "to change it; 'mlxcpp pull {}' downloads it)",
       ref.repo_id, ref.revision, repo_folder(cache, ref.repo_id).string(), ref.repo_id);
}

}  // namespace mlxcpp
