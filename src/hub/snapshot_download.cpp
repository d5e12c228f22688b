#include "hub/snapshot_download.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "hub/hf_cache.h"
#include "hub/http_client.h"
#include "hub/hub_error.h"
#include "util/files.h"
#include "util/hash.h"

namespace mlxcpp {
namespace fs = std::filesystem;

namespace {

using Kind = HubError::Kind;

std::string normalize_etag(std::string e) {
  if (e.starts_with("W/")) e.erase(0, 2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e;
}

std::string read_ref(const fs::path& repo_dir, const std::string& revision) {
  if (is_commit_hash(revision)) return revision;
  const fs::path ref = repo_dir / "refs" / revision;
  if (!fs::is_regular_file(ref)) return "";
  std::string commit = read_text_file(ref);
  while (!commit.empty() && std::isspace(static_cast<unsigned char>(commit.back()))) commit.pop_back();
  return is_commit_hash(commit) ? commit : "";
}

fs::path tree_file(const fs::path& repo_dir, const std::string& commit) { return repo_dir / "trees" / (commit + ".json"); }

// trees/<commit>.json as huggingface_hub ≥ 1.22 writes it; nullopt when absent, unknown or
// malformed (the caller then lists the snapshot directory instead). A damaged file must not
// throw a JSON type error or convert an out-of-range size.
std::optional<std::vector<RepoFile>> read_tree_cache(const fs::path& repo_dir, const std::string& commit) {
  const fs::path file = tree_file(repo_dir, commit);
  if (!fs::is_regular_file(file)) return std::nullopt;
  const auto j = nlohmann::json::parse(read_text_file(file), nullptr, false);
  if (!j.is_object() || j.value("format_version", 0) != 1 || !j.contains("files") || !j["files"].is_object())
    return std::nullopt;
  std::vector<RepoFile> files;
  auto string_or_absent = [](const nlohmann::json& e, const char* key) { return !e.contains(key) || e[key].is_string(); };
  for (const auto& [path, e] : j["files"].items()) {
    if (!e.is_object() || !e.contains("size") || !e["size"].is_number_unsigned() || !string_or_absent(e, "blob_id") ||
        !string_or_absent(e, "xet_hash") || !string_or_absent(e, "lfs_sha256"))
      return std::nullopt;
    RepoFile f;
    f.path = path;
    f.size = e["size"].get<uint64_t>();
    f.blob_id = e.value("blob_id", "");
    f.xet_hash = e.value("xet_hash", "");
    f.lfs = e.contains("lfs_sha256");
    f.etag = f.lfs ? e.value("lfs_sha256", "") : f.blob_id;
    files.push_back(std::move(f));
  }
  return files;
}

void write_tree_cache(const fs::path& repo_dir, const std::string& commit, const std::vector<RepoFile>& files) {
  nlohmann::json all = nlohmann::json::object();  // std::map underneath: keys come out sorted
  for (const auto& f : files) {
    nlohmann::json e = {{"size", f.size}, {"blob_id", f.blob_id}};
    if (f.lfs) e["lfs_sha256"] = f.etag, e["lfs_size"] = f.size;
    if (f.xet_hash.size() == 64) e["xet_hash"] = f.xet_hash;
    all[f.path] = e;
  }
  fs::create_directories(repo_dir / "trees");
  write_file_atomic(tree_file(repo_dir, commit), nlohmann::json{{"format_version", 1}, {"files", all}}.dump());
}

bool is_weight_file(const std::string& path) { return path.ends_with(".safetensors"); }

// Holds flock(LOCK_EX) on <cache>/.locks/<repo folder>/<etag>.lock, as huggingface_hub does.
class BlobLock {
 public:
  explicit BlobLock(const fs::path& lock_path) {
    fs::create_directories(lock_path.parent_path());
    fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0664);
    if (fd_ < 0) fail("{}: cannot create the download lock", lock_path.string());
    ::flock(fd_, LOCK_EX);
  }
  ~BlobLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_ = -1;
};

// The pointer snapshots/<commit>/<path> → ../../blobs/<etag>, made under a temporary name
// and renamed, so it appears whole. Falls back to a copy where symlinks are refused.
void link_pointer(const fs::path& pointer, const fs::path& blob, const std::string& path) {
  fs::create_directories(pointer.parent_path());
  std::string target;
  for (size_t depth = std::count(path.begin(), path.end(), '/') + 2; depth > 0; --depth) target += "../";
  target += "blobs/" + blob.filename().string();
  const fs::path tmp = pointer.string() + ".linking." + std::to_string(::getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp, ec);
  if (ec) fs::copy_file(blob, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, pointer);
}

std::string absolute_location(const std::string& location, const std::string& request_url) {
  if (location.find("://") != std::string::npos) return location;
  const auto scheme = request_url.find("://");
  const auto path_start = request_url.find('/', scheme + 3);
  return request_url.substr(0, path_start) + (location.starts_with("/") ? "" : "/") + location;
}

class Downloader {
 public:
  Downloader(const HubSettings& s, const PullPlan& plan, const std::function<void(const PullEvent&)>& on_event)
      : s_(s), plan_(plan), on_event_(on_event), repo_dir_(repo_folder(s.cache_dir, plan.repo_id)) {
    total_size_ = plan.bytes_missing;
  }

  void run() {
    const size_t workers = std::min<size_t>(std::max(1, s_.max_workers), plan_.missing.size());
    std::atomic<size_t> next{0};
    std::exception_ptr first_error;
    std::mutex error_mu;
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers; ++w)
      threads.emplace_back([&] {
        for (size_t i; (i = next++) < plan_.missing.size();) {
          {
            std::lock_guard lock(error_mu);
            if (first_error) return;
          }
          try {
            download_file(plan_.missing[i]);
          } catch (...) {
            std::lock_guard lock(error_mu);
            if (!first_error) first_error = std::current_exception();
          }
        }
      });
    for (auto& t : threads) t.join();
    if (first_error) std::rethrow_exception(first_error);
  }

  size_t files_downloaded() const { return files_downloaded_; }
  size_t files_linked() const { return files_linked_; }
  uint64_t bytes_downloaded() const { return bytes_downloaded_; }

 private:
  void emit(PullEvent::Kind kind, const std::string& path, uint64_t bytes, uint64_t size, std::string message = "") {
    PullEvent e;
    e.kind = kind, e.path = path, e.file_bytes = bytes, e.file_size = size, e.message = std::move(message);
    if (!on_event_) return;
    e.total_done = total_done_;
    e.total_size = total_size_;
    std::lock_guard lock(event_mu_);
    on_event_(e);
  }

  void download_file(const RepoFile& f) {
    const fs::path pointer = repo_dir_ / "snapshots" / plan_.commit / f.path;
    const fs::path blob = repo_dir_ / "blobs" / f.etag;
    emit(PullEvent::FileStart, f.path, 0, f.size);
    {
      BlobLock lock(s_.cache_dir / ".locks" / repo_dir_.filename() / (f.etag + ".lock"));
      // A blob already in the cache (another revision's, or another process's) is linked,
      // not counted as downloaded: downloaded_files and downloaded_bytes agree.
      if (!fs::exists(blob)) {
        fetch_blob(f, blob);
        ++files_downloaded_;
      } else {
        ++files_linked_;
      }
      link_pointer(pointer, blob, f.path);
    }
    emit(PullEvent::FileDone, f.path, f.size, f.size);
  }

  void fetch_blob(const RepoFile& f, const fs::path& blob) {
    fs::create_directories(blob.parent_path());
    const fs::path incomplete = blob.string() + ".incomplete";
    for (int whole = 0;; ++whole) {
      transfer(f, incomplete);
      const uint64_t got = fs::file_size(incomplete);
      std::string problem;
      if (got != f.size) {
        problem = fmt::format("received {} bytes, the Hub lists {}", got, f.size);
      } else if (const std::string digest = file_digest_for_etag(incomplete, f.etag); digest != f.etag) {
        problem = fmt::format("content hash {} does not match the etag {}", digest, f.etag);
      }
      if (problem.empty()) break;
      // Corrupt bytes never reach blobs/: drop them, try once more from zero, then give up.
      fs::remove(incomplete);
      total_done_ -= std::min<uint64_t>(total_done_, got);
      if (whole >= 1)
        throw HubError(Kind::Integrity, fmt::format("{}/{}: {}; the download was discarded", plan_.repo_id, f.path, problem));
      emit(PullEvent::FileRetry, f.path, 0, f.size, problem + "; downloading again");
    }
    const int fd = ::open(incomplete.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) ::fsync(fd), ::close(fd);
    fs::rename(incomplete, blob);
  }

  // Brings `incomplete` to the file's full length, resuming with Range; retries transport
  // failures and 5xx/429 (the attempt count resets whenever bytes arrive).
  void transfer(const RepoFile& f, const fs::path& incomplete) {
    const std::string url = s_.endpoint + "/" + plan_.repo_id + "/resolve/" + plan_.commit + "/" + url_encode(f.path, true);
    const std::string subject = plan_.repo_id + "/" + f.path;
    double wait = s_.retry_base_s;
    for (int failures = 0;;) {
      uint64_t offset = fs::exists(incomplete) ? fs::file_size(incomplete) : 0;
      if (offset > f.size) fs::resize_file(incomplete, 0), offset = 0;
      if (offset == f.size && fs::exists(incomplete)) return;
      const std::string download_url = metadata_url(f, url, subject);
      std::FILE* out = std::fopen(incomplete.c_str(), "ab");
      if (!out) fail("{}: cannot write", incomplete.string());
      uint64_t received = 0;
      HttpRequest req;
      req.url = download_url;
      req.connect_timeout_s = s_.metadata_timeout_s;
      req.stall_timeout_s = s_.download_timeout_s;
      req.headers = {"User-Agent: " + s_.user_agent, "Accept-Encoding: identity"};
      if (auto auth = s_.authorization_for(download_url); !auth.empty()) req.headers.push_back("Authorization: " + auth);
      if (offset > 0) req.headers.push_back("Range: bytes=" + std::to_string(offset) + "-");
      bool restarted = false;
      uint64_t last_event = 0;
      req.sink = [&](std::string_view chunk, const HttpResponse& r) {
        if (!restarted && offset > 0 && r.status == 200) {
          // The server ignored Range: start the file over.
          restarted = true;
          std::fflush(out);
          if (::ftruncate(::fileno(out), 0) != 0) return false;
          total_done_ -= std::min<uint64_t>(total_done_, offset);
          offset = 0;
        }
        if (std::fwrite(chunk.data(), 1, chunk.size(), out) != chunk.size()) return false;
        received += chunk.size();
        total_done_ += chunk.size();
        bytes_downloaded_ += chunk.size();
        if (received - last_event >= (1u << 20)) {
          last_event = received;
          emit(PullEvent::FileBytes, f.path, offset + received, f.size);
        }
        return true;
      };
      const HttpResponse r = http_perform(req);
      const bool write_ok = std::fclose(out) == 0 && !r.aborted_by_sink;
      if (!write_ok) fail("{}: writing the download failed (disk full?)", incomplete.string());
      if (r.status == 416) {  // our partial file no longer matches the server's: start over
        fs::resize_file(incomplete, 0);
        continue;
      }
      if (r.ok() && fs::file_size(incomplete) >= f.size) return;
      if (r.transport_error.empty() && !r.ok() && !is_retryable(r)) throw hub_error_for(r, subject, plan_.repo_id, s_);
      failures = received > 0 ? 0 : failures + 1;
      if (received > 0) wait = s_.retry_base_s;
      if (failures > s_.max_retries) {
        if (!r.transport_error.empty() || !r.ok()) throw hub_error_for(r, subject, plan_.repo_id, s_);
        throw HubError(Kind::Network, fmt::format("{}: the server keeps ending the transfer early", subject));
      }
      const std::string why = r.transport_error.empty() ? (r.ok() ? "connection closed early" : "HTTP " + std::to_string(r.status))
                                                        : r.transport_error;
      emit(PullEvent::FileRetry, f.path, fs::file_size(incomplete), f.size,
           fmt::format("{}; resuming at byte {}", why, fs::file_size(incomplete)));
      std::this_thread::sleep_for(std::chrono::duration<double>(received > 0 ? 0 : std::min(wait, s_.retry_cap_s)));
      if (received == 0) wait *= 2;
    }
  }

  // HEAD on the resolve URL without following redirects (hf-hub.md §4.1): checks the etag
  // and commit, and returns where the bytes are (a fresh pre-signed URL on every call).
  std::string metadata_url(const RepoFile& f, const std::string& url, const std::string& subject) {
    const HttpResponse head = with_retries(s_, subject, [&] {
      HttpRequest req;
      req.method = "HEAD";
      req.url = url;
      req.connect_timeout_s = req.stall_timeout_s = s_.metadata_timeout_s;
      req.headers = {"User-Agent: " + s_.user_agent, "Accept-Encoding: identity"};
      if (auto auth = s_.authorization_for(url); !auth.empty()) req.headers.push_back("Authorization: " + auth);
      return http_perform(req);
    });
    const bool redirect = head.status >= 300 && head.status < 400;
    if (!head.transport_error.empty() || (!head.ok() && !redirect)) throw hub_error_for(head, subject, plan_.repo_id, s_);
    const std::string etag = normalize_etag(head.header("x-linked-etag").empty() ? head.header("etag") : head.header("x-linked-etag"));
    if (!etag.empty() && etag != f.etag)
      throw HubError(Kind::Integrity, fmt::format("{}: the Hub's etag {} differs from the file list's {} (the "
                                                  "revision moved during the download?)", subject, etag, f.etag));
    if (const auto commit = head.header("x-repo-commit"); !commit.empty() && commit != plan_.commit)
      throw HubError(Kind::Integrity, fmt::format("{}: served from commit {}, expected {}", subject, commit, plan_.commit));
    return redirect && !head.header("location").empty() ? absolute_location(head.header("location"), url) : url;
  }

  const HubSettings& s_;
  const PullPlan& plan_;
  const std::function<void(const PullEvent&)>& on_event_;
  fs::path repo_dir_;
  std::mutex event_mu_;
  std::atomic<uint64_t> total_done_{0}, bytes_downloaded_{0};
  std::atomic<size_t> files_downloaded_{0}, files_linked_{0};
  uint64_t total_size_ = 0;
};

void fill_plan_from_files(PullPlan& plan, std::vector<RepoFile> all, const PullOptions& o, const fs::path& repo_dir) {
  plan.all_files = std::move(all);
  for (const auto& f : plan.all_files) {
    if (!path_selected(f.path, o.include, o.exclude)) continue;
    plan.files.push_back(f);
    plan.bytes_total += f.size;
    if (is_weight_file(f.path)) plan.weight_bytes += f.size;
    if (!fs::exists(repo_dir / "snapshots" / plan.commit / f.path)) {
      plan.missing.push_back(f);
      plan.bytes_missing += f.size;
    }
  }
}

// The cached snapshot of `commit`, its file list from trees/<commit>.json or the folder itself.
void plan_from_cache(PullPlan& plan, const PullOptions& o, const fs::path& repo_dir) {
  const fs::path snap = repo_dir / "snapshots" / plan.commit;
  std::vector<RepoFile> files;
  if (auto tree = read_tree_cache(repo_dir, plan.commit)) {
    files = *tree;
  } else {
    for (const auto& e : fs::recursive_directory_iterator(snap))
      if (!e.is_directory()) {
        RepoFile f;
        f.path = e.path().lexically_relative(snap).generic_string();
        f.size = fs::exists(e.path()) ? fs::file_size(e.path()) : 0;
        files.push_back(f);
      }
  }
  fill_plan_from_files(plan, std::move(files), o, repo_dir);
  plan.from_cache_only = true;
}

}  // namespace

bool path_selected(const std::string& path, const std::vector<std::string>& include, const std::vector<std::string>& exclude) {
  const auto matches = [&](std::string pattern) {
    std::replace(pattern.begin(), pattern.end(), '\\', '/');
    if (pattern.ends_with("/")) pattern += "*";
    return ::fnmatch(pattern.c_str(), path.c_str(), 0) == 0;  // no FNM_PATHNAME: '*' crosses '/'
  };
  if (!include.empty() && std::none_of(include.begin(), include.end(), matches)) return false;
  return std::none_of(exclude.begin(), exclude.end(), matches);
}

nlohmann::json PullPlan::to_json() const {
  nlohmann::json missing_paths = nlohmann::json::array();
  for (const auto& f : missing) missing_paths.push_back(f.path);
  return {{"repo_id", repo_id}, {"revision", revision}, {"commit", commit}, {"files", files.size()},
          {"bytes_total", bytes_total}, {"missing", missing_paths}, {"bytes_missing", bytes_missing},
          {"weight_bytes", weight_bytes}, {"from_cache_only", from_cache_only}, {"note", note}};
}

nlohmann::json PullResult::to_json() const {
  auto j = plan.to_json();
  j["snapshot"] = snapshot.string();
  j["downloaded_files"] = downloaded_files;
  j["linked_files"] = linked_files;
  j["downloaded_bytes"] = downloaded_bytes;
  return j;
}

PullPlan plan_pull(const HubSettings& s, const PullOptions& o) {
  const RepoRef ref = parse_repo_ref(o.repo_id + "@" + o.revision);  // validates both
  PullPlan plan;
  plan.repo_id = ref.repo_id;
  plan.revision = ref.revision;
  const fs::path repo_dir = repo_folder(s.cache_dir, plan.repo_id);
  const auto from_cache = [&](const std::string& why, const HubError* cause) {
    plan.commit = read_ref(repo_dir, plan.revision);
    if (plan.commit.empty() || !fs::is_directory(repo_dir / "snapshots" / plan.commit)) {
      if (cause && !cause->transient()) throw *cause;
      throw HubError(Kind::Offline, fmt::format("{}@{}: {}, and the cache at {} has no complete snapshot of it{}",
                                                plan.repo_id, plan.revision, why, repo_dir.string(),
                                                cause ? fmt::format(" ({})", cause->what()) : ""));
    }
    plan_from_cache(plan, o, repo_dir);
    plan.note = why + "; using the cached snapshot";
    if (!plan.missing.empty())
      throw HubError(Kind::Offline, fmt::format("{}@{}: {}, and the cached snapshot {} is incomplete: {} of its files "
                                                "are missing (first: {})", plan.repo_id, plan.revision, why,
                                                plan.commit, plan.missing.size(), plan.missing.front().path));
    return plan;
  };
  if (s.offline) return from_cache("HF_HUB_OFFLINE is set", nullptr);
  try {
    plan.commit = is_commit_hash(plan.revision) ? plan.revision : hub_resolve_revision(s, plan.repo_id, plan.revision);
  } catch (const HubError& e) {
    // The Hub unreachable or failing: the cache stands in, as in huggingface_hub.
    if (e.transient()) return from_cache("the Hub could not be reached", &e);
    throw;
  }
  auto files = read_tree_cache(repo_dir, plan.commit);
  fill_plan_from_files(plan, files ? *files : hub_list_files(s, plan.repo_id, plan.commit), o, repo_dir);
  if (plan.files.empty()) fail("{}@{}: no file matches the include/exclude patterns", plan.repo_id, plan.revision);
  return plan;
}

PullResult execute_pull(const HubSettings& s, const PullPlan& plan, const std::function<void(const PullEvent&)>& on_event) {
  PullResult result;
  result.plan = plan;
  const fs::path repo_dir = repo_folder(s.cache_dir, plan.repo_id);
  result.snapshot = repo_dir / "snapshots" / plan.commit;
  if (plan.from_cache_only) return result;
  fs::create_directories(result.snapshot);
  if (!fs::exists(s.cache_dir / "CACHEDIR.TAG"))
    write_file_atomic(s.cache_dir / "CACHEDIR.TAG",
                      "Signature: 8a477f597d28d172789f06886806bc55\n"
                      "# This file is a cache directory tag created by mlxcpp (Hugging Face hub cache layout).\n");
  write_tree_cache(repo_dir, plan.commit, plan.all_files);
  Downloader d(s, plan, on_event);
  if (!plan.missing.empty()) d.run();
  result.downloaded_files = d.files_downloaded();
  result.linked_files = d.files_linked();
  result.downloaded_bytes = d.bytes_downloaded();
  // Last: a ref names a snapshot only once every selected file is in place (40 hex, no newline).
  if (plan.revision != plan.commit) {
    const fs::path ref = repo_dir / "refs" / plan.revision;
    if (read_ref(repo_dir, plan.revision) != plan.commit) {
      fs::create_directories(ref.parent_path());
      write_file_atomic(ref, plan.commit);
    }
  }
  return result;
}

}  // namespace mlxcpp
