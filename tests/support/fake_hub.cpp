#include "fake_hub.h"

#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "util/hash.h"

namespace mlxcpp::testing {
namespace fs = std::filesystem;

struct FakeHub::Impl {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  mutable std::mutex mu;
  std::map<std::string, FakeRepo> repos;
  std::map<std::string, Fault> faults;  // "repo/path"
  std::string token;
  size_t page_size = 2;
  std::vector<std::string> request_log;
  std::atomic<int> leaks{0};

  void error(httplib::Response& res, int status, const std::string& code, const std::string& message,
             const std::string& commit = "") {
    res.status = status;
    if (!code.empty()) res.set_header("X-Error-Code", code);
    res.set_header("X-Error-Message", message);
    if (!commit.empty()) res.set_header("X-Repo-Commit", commit);
    res.set_content(nlohmann_error(message), "application/json");
  }
  static std::string nlohmann_error(const std::string& m) { return "{\"error\": \"" + m + "\"}"; }

  // nullptr after answering with the right error when the caller may not see the repo.
  const FakeRepo* visible_repo(const httplib::Request& req, httplib::Response& res, const std::string& id) {
    std::lock_guard lock(mu);
    const auto it = repos.find(id);
    const std::string auth = req.get_header_value("Authorization");
    const bool authed = !token.empty() && auth == "Bearer " + token;
    if (!auth.empty() && !authed && auth != "Bearer " + token) {
      error(res, 401, "", "Invalid credentials in Authorization header");
      return nullptr;
    }
    if (it == repos.end() || (it->second.access == FakeRepo::Access::Private && !authed)) {
      error(res, it == repos.end() ? 404 : 401, "RepoNotFound", "Repository not found");
      return nullptr;
    }
    if (it->second.access == FakeRepo::Access::Gated && !authed) {
      error(res, auth.empty() ? 401 : 403, "GatedRepo", "Access to model " + id + " is restricted.");
      return nullptr;
    }
    return &it->second;
  }

  bool is_lfs(const FakeRepo& r, const std::string& content) const { return content.size() >= r.lfs_threshold; }

  // Serves `content` honouring Range (httplib slices for us) with the file's faults.
  void serve_bytes(const httplib::Request& req, httplib::Response& res, const std::string& key, std::string content) {
    Fault f;
    {
      std::lock_guard lock(mu);
      if (auto it = faults.find(key); it != faults.end()) {
        Fault& live = it->second;
        if (live.status_times > 0) {
          --live.status_times;
          res.status = live.status;
          if (live.retry_after_s >= 0) res.set_header("Retry-After", std::to_string(live.retry_after_s));
          res.set_content("{\"error\": \"injected\"}", "application/json");
          return;
        }
        f = live;
        if (live.drop_times > 0) --live.drop_times;
        if (live.corrupt_times > 0) --live.corrupt_times;
      }
    }
    if (f.corrupt_times > 0 && !content.empty()) content[content.size() / 2] ^= 0x5a;
    auto data = std::make_shared<std::string>(std::move(content));
    const bool drop = f.drop_times > 0;
    const size_t drop_after = f.drop_after;
    const double delay = f.chunk_delay_s;
    res.set_header("Accept-Ranges", "bytes");
    (void)req;
    res.set_content_provider(data->size(), "application/octet-stream",
                             [data, drop, drop_after, delay](size_t offset, size_t length, httplib::DataSink& sink) {
                               size_t n = std::min<size_t>(length, 16384);
                               if (drop) {
                                 if (offset >= drop_after) return false;  // cut the connection
                                 n = std::min(n, drop_after - offset);
                               }
                               if (delay > 0) std::this_thread::sleep_for(std::chrono::duration<double>(delay));
                               sink.write(data->data() + offset, n);
                               return true;
                             });
  }
};

FakeHub::FakeHub() : impl_(std::make_unique<Impl>()) {
  auto& s = impl_->server;
  Impl* I = impl_.get();
  s.set_logger([I](const httplib::Request& req, const httplib::Response&) {
    std::lock_guard lock(I->mu);
    I->request_log.push_back(req.path);
  });
  s.Get("/api/models", [I](const httplib::Request& req, httplib::Response& res) {
    const std::string search = req.get_param_value("search"), author = req.get_param_value("author");
    const size_t limit = req.has_param("limit") ? std::stoul(req.get_param_value("limit")) : 1000;
    const size_t cursor = req.has_param("cursor") ? std::stoul(req.get_param_value("cursor")) : 0;
    std::vector<const FakeRepo*> hits;
    std::lock_guard lock(I->mu);
    for (const auto& [id, r] : I->repos)
      if ((search.empty() || id.find(search) != std::string::npos) && (author.empty() || id.starts_with(author + "/")) &&
          r.access != FakeRepo::Access::Private)
        hits.push_back(&r);
    std::stable_sort(hits.begin(), hits.end(), [](auto* a, auto* b) { return a->downloads > b->downloads; });
    const size_t page = std::min(limit, I->page_size);
    std::ostringstream out;
    out << "[";
    for (size_t i = cursor; i < std::min(hits.size(), cursor + page); ++i)
      out << (i > cursor ? "," : "") << "{\"id\":\"" << hits[i]->id << "\",\"modelId\":\"" << hits[i]->id
          << "\",\"downloads\":" << hits[i]->downloads << ",\"likes\":1,\"library_name\":\"mlx\",\"tags\":[\"mlx\"],"
          << "\"sha\":\"" << hits[i]->commit << "\",\"lastModified\":\"2026-01-01T00:00:00.000Z\"}";
    out << "]";
    if (cursor + page < hits.size()) {
      std::string next = "http://127.0.0.1:" + std::to_string(I->port) + "/api/models?cursor=" + std::to_string(cursor + page);
      for (const auto& [k, v] : req.params)
        if (k != "cursor") next += "&" + k + "=" + httplib::detail::encode_query_param(v);
      res.set_header("Link", "<" + next + ">; rel=\"next\"");
    }
    res.set_content(out.str(), "application/json");
  });
  s.Get(R"(/api/models/([^/]+/[^/]+)/revision/([^/]+))", [I](const httplib::Request& req, httplib::Response& res) {
    const FakeRepo* r = I->visible_repo(req, res, req.matches[1]);
    if (!r) return;
    const std::string rev = req.matches[2];
    if (rev != "main" && rev != r->commit) return I->error(res, 404, "RevisionNotFound", "Invalid rev id: " + rev);
    res.set_content("{\"id\":\"" + r->id + "\",\"sha\":\"" + r->commit + "\"}", "application/json");
  });
  s.Get(R"(/api/models/([^/]+/[^/]+)/tree/([^/]+))", [I](const httplib::Request& req, httplib::Response& res) {
    const FakeRepo* r = I->visible_repo(req, res, req.matches[1]);
    if (!r) return;
    if (req.matches[2] != r->commit && req.matches[2] != "main")
      return I->error(res, 404, "RevisionNotFound", "Invalid rev id");
    const size_t cursor = req.has_param("cursor") ? std::stoul(req.get_param_value("cursor")) : 0;
    std::ostringstream out;
    out << "[";
    size_t i = 0, written = 0;
    for (const auto& [path, content] : r->files) {
      if (i++ < cursor || written >= I->page_size) continue;
      const bool lfs = I->is_lfs(*r, content);
      const std::string pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256_hex(content) +
                                  "\nsize " + std::to_string(content.size()) + "\n";
      out << (written++ ? "," : "") << "{\"type\":\"file\",\"path\":\"" << path << "\",\"size\":" << content.size()
          << ",\"oid\":\"" << git_blob_sha1_hex(lfs ? pointer : content) << "\"";
      if (lfs) out << ",\"lfs\":{\"oid\":\"" << sha256_hex(content) << "\",\"size\":" << content.size() << ",\"pointerSize\":" << pointer.size() << "}";
      out << "}";
    }
    out << "]";
    if (cursor + I->page_size < r->files.size())
      res.set_header("Link", "<http://127.0.0.1:" + std::to_string(I->port) + req.path + "?recursive=true&cursor=" +
                                 std::to_string(cursor + I->page_size) + ">; rel=\"next\"");
    res.set_content(out.str(), "application/json");
  });
  // HEAD is routed to GET handlers by httplib (bodies dropped).
  s.Get(R"(/([^/]+/[^/]+)/resolve/([^/]+)/(.+))", [I](const httplib::Request& req, httplib::Response& res) {
    const FakeRepo* r = I->visible_repo(req, res, req.matches[1]);
    if (!r) return;
    const std::string rev = req.matches[2], path = req.matches[3];
    if (rev != r->commit && rev != "main") return I->error(res, 404, "RevisionNotFound", "Invalid rev id");
    const auto it = r->files.find(path);
    if (it == r->files.end()) return I->error(res, 404, "EntryNotFound", path + " does not exist", r->commit);
    res.set_header("X-Repo-Commit", r->commit);
    if (I->is_lfs(*r, it->second)) {
      const std::string sha = sha256_hex(it->second);
      res.status = 302;
      res.set_header("X-Linked-Etag", "\"" + sha + "\"");
      res.set_header("X-Linked-Size", std::to_string(it->second.size()));
      // Another host name for the same server: the client must drop Authorization.
      res.set_header("Location", "http://localhost:" + std::to_string(I->port) + "/cdn/" + r->id + "/" + sha);
      return;
    }
    res.set_header("ETag", "\"" + git_blob_sha1_hex(it->second) + "\"");
    I->serve_bytes(req, res, r->id + "/" + path, it->second);
  });
  s.Get(R"(/cdn/([^/]+/[^/]+)/([0-9a-f]{64}))", [I](const httplib::Request& req, httplib::Response& res) {
    if (req.has_header("Authorization")) ++I->leaks;
    std::string path, content;
    {
      std::lock_guard lock(I->mu);
      const auto it = I->repos.find(req.matches[1]);
      if (it == I->repos.end()) return I->error(res, 404, "", "no such object");
      for (const auto& [p, c] : it->second.files)
        if (sha256_hex(c) == req.matches[2].str()) path = p, content = c;
    }
    if (path.empty()) return I->error(res, 404, "", "no such object");
    I->serve_bytes(req, res, req.matches[1].str() + "/" + path, content);
  });
  impl_->port = s.bind_to_any_port("127.0.0.1");
  impl_->thread = std::thread([&s] { s.listen_after_bind(); });
  while (!s.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeHub::~FakeHub() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string FakeHub::endpoint() const { return "http://127.0.0.1:" + std::to_string(impl_->port); }
int FakeHub::port() const { return impl_->port; }

void FakeHub::add_repo(const FakeRepo& repo) {
  std::lock_guard lock(impl_->mu);
  impl_->repos[repo.id] = repo;
}

void FakeHub::set_fault(const std::string& repo_id, const std::string& path, const Fault& fault) {
  std::lock_guard lock(impl_->mu);
  impl_->faults[repo_id + "/" + path] = fault;
}

void FakeHub::set_token(const std::string& token) {
  std::lock_guard lock(impl_->mu);
  impl_->token = token;
}

void FakeHub::set_page_size(size_t n) {
  std::lock_guard lock(impl_->mu);
  impl_->page_size = n;
}

int FakeHub::requests_for(const std::string& prefix) const {
  std::lock_guard lock(impl_->mu);
  return int(std::count_if(impl_->request_log.begin(), impl_->request_log.end(),
                           [&](const std::string& p) { return p.starts_with(prefix); }));
}

int FakeHub::token_leaks() const { return impl_->leaks; }

void FakeHub::block_forever() {
  if (impl_->thread.joinable()) impl_->thread.join();
}

FakeRepo repo_from_directory(const std::string& id, const std::string& dir) {
  FakeRepo repo;
  repo.id = id;
  std::string listing;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string path = fs::relative(e.path(), dir).generic_string();
    repo.files[path] = ss.str();
  }
  for (const auto& [p, c] : repo.files) listing += p + " " + sha256_hex(c) + "\n";
  repo.commit = git_blob_sha1_hex(listing);
  return repo;
}

}  // namespace mlxcpp::testing
