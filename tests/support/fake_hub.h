// A fake Hugging Face Hub on 127.0.0.1 for the tests, following hf-hub.md: /api/models with
// Link pagination, /revision/, /tree/ (paginated), HEAD/GET /resolve/ with X-Repo-Commit and
// etags, LFS files behind a 302 to another host name ("localhost") that must not receive the
// token, Range requests, the X-Error-Code errors — and fault injection per file.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mlxcpp::testing {

struct FakeRepo {
  std::string id;       // org/name
  std::string commit;   // 40 hex
  std::map<std::string, std::string> files;  // path → content
  size_t lfs_threshold = 1024;               // files at least this big are LFS
  enum class Access { Public, Gated, Private } access = Access::Public;
  int64_t downloads = 0;
};

// What goes wrong serving one file's bytes; counters count down as the faults are used.
struct Fault {
  int status_times = 0;  // answer `status` this many times first
  int status = 503;
  int retry_after_s = -1;       // with a Retry-After header when ≥ 0
  int drop_times = 0;           // close the connection after `drop_after` bytes
  size_t drop_after = 0;
  int corrupt_times = 0;        // flip a byte
  double chunk_delay_s = 0;     // sleep between 16 KiB chunks (a slow server)
};

class FakeHub {
 public:
  FakeHub();
  ~FakeHub();
  std::string endpoint() const;  // http://127.0.0.1:<port>
  int port() const;

  void add_repo(const FakeRepo& repo);
  void set_fault(const std::string& repo_id, const std::string& path, const Fault& fault);
  void set_token(const std::string& token);  // the token that opens gated/private repos
  void set_page_size(size_t n);              // search and tree pages

  int requests_for(const std::string& path_prefix) const;
  int token_leaks() const;  // CDN requests that carried Authorization
  void block_forever();     // serve until killed (the standalone server)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A repo whose files are those of a directory, at a commit derived from their contents.
FakeRepo repo_from_directory(const std::string& id, const std::string& dir);

}  // namespace mlxcpp::testing
