#include "format/safetensors_writer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "util/error.h"

namespace mlxcpp {

void SafetensorsWriter::add(std::string name, DType dtype, std::vector<int64_t> shape, Fill fill) {
  add_group({Decl{std::move(name), dtype, std::move(shape)}},
            [fill = std::move(fill)](std::vector<std::span<uint8_t>> dsts) { fill(dsts[0]); });
}

void SafetensorsWriter::add_group(std::vector<Decl> decls, GroupFill fill) {
  Job job{{}, 0, std::move(fill)};
  for (auto& d : decls) {
    if (d.name == "__metadata__") fail("safetensors writer: '__metadata__' is not a valid tensor name");
    for (const auto& t : tensors_)
      if (t.decl.name == d.name) fail("safetensors writer: tensor '{}' added twice", d.name);
    uint64_t n = dtype_size(d.dtype);
    for (int64_t dim : d.shape) {
      if (dim < 0) fail("safetensors writer: tensor '{}' has a negative dimension", d.name);
      n *= uint64_t(dim);
    }
    job.tensors.push_back(tensors_.size());
    job.bytes += n;
    tensors_.push_back({std::move(d), data_bytes_, data_bytes_ + n});
    data_bytes_ += n;
  }
  jobs_.push_back(std::move(job));
}

void SafetensorsWriter::add_copy(std::string name, DType dtype, std::vector<int64_t> shape,
                                 std::span<const uint8_t> bytes) {
  add(std::move(name), dtype, std::move(shape), [bytes](std::span<uint8_t> dst) {
    if (dst.size() != bytes.size()) fail("safetensors writer: byte size mismatch");
    std::memcpy(dst.data(), bytes.data(), bytes.size());
  });
}

void SafetensorsWriter::write(const std::filesystem::path& path, int threads) const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  for (const auto& t : tensors_)
    header[t.decl.name] = {
        {"dtype", dtype_name(t.decl.dtype)}, {"shape", t.decl.shape}, {"data_offsets", {t.begin, t.end}}};
  std::string text = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned (as MLX and the reference
  // implementation do); readers can then use aligned loads on the mapped data.
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');
  const uint64_t total = 8 + text.size() + data_bytes_;

  const std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("{}: cannot create: {}", tmp, std::strerror(errno));
  auto abort_write = [&](const std::string& why) {
    ::close(fd);
    ::unlink(tmp.c_str());
    fail("{}: {}", path.string(), why);
  };
  if (::ftruncate(fd, off_t(total)) != 0) abort_write(std::string("cannot size file: ") + std::strerror(errno));
  void* map = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) abort_write(std::string("cannot mmap: ") + std::strerror(errno));
  auto* base = static_cast<uint8_t*>(map);
  const uint64_t hlen = text.size();
  for (int i = 0; i < 8; ++i) base[i] = uint8_t(hlen >> (8 * i));
  std::memcpy(base + 8, text.data(), text.size());
  uint8_t* data = base + 8 + text.size();

  // Jobs are independent: hand them out to workers, largest first for balance.
  std::vector<size_t> order(jobs_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return jobs_[a].bytes > jobs_[b].bytes; });
  std::atomic<size_t> next{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (size_t k; (k = next.fetch_add(1)) < order.size();) {
      const Job& job = jobs_[order[k]];
      try {
        std::vector<std::span<uint8_t>> dsts;
        for (size_t i : job.tensors) dsts.emplace_back(data + tensors_[i].begin, tensors_[i].end - tensors_[i].begin);
        job.fill(std::move(dsts));
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        next = order.size();
      }
    }
  };
  const int n = std::max(1, std::min<int>(threads, int(order.size())));
  std::vector<std::thread> pool;
  for (int i = 1; i < n; ++i) pool.emplace_back(worker);
  worker();
  for (auto& th : pool) th.join();

  ::munmap(map, total);
  if (first_error) {
    ::close(fd);
    ::unlink(tmp.c_str());
    std::rethrow_exception(first_error);
  }
  if (::fsync(fd) != 0) abort_write(std::string("cannot flush: ") + std::strerror(errno));
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    fail("{}: cannot rename into place: {}", path.string(), std::strerror(err));
  }
}

}  // namespace mlxcpp
