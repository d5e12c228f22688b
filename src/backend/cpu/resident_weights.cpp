#include "backend/cpu/resident_weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <unordered_map>
#include <vector>

#include "backend/cpu/int8_matmul.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace mlxcpp::cpu {
namespace {

// fn(m) for every weight matrix of the program.
template <typename Program, typename Fn>
void each_matrix(Program& p, Fn&& fn) {
  fn(p.embed);
  fn(p.lm_head);
  for (auto& L : p.layers) {
    for (auto& m : L.attention.qkv) fn(m);
    fn(L.attention.o);
    auto gated = [&](auto& g) {
      for (auto& m : g.gate_up) fn(m);
      fn(g.down);
    };
    gated(L.ffn.dense);
    fn(L.ffn.router);
    for (auto& e : L.ffn.experts) gated(e);
  }
}

// The parts of a matrix that are copied, and their sizes in bytes (0: absent).
struct Parts {
  size_t data = 0, scales = 0, biases = 0;
};

Parts parts_of(const WeightMatrix& w) {
  Parts p;
  if (!w.data) return p;
  p.data = size_t(w.rows) * w.row_bytes();
  if (w.quant) {
    const size_t groups = size_t(w.rows) * size_t(w.cols / w.quant->group_size);
    p.scales = w.scales ? groups * (w.quant->mode == QuantMode::Affine ? dtype_size(w.dtype) : 1) : 0;
    p.biases = w.biases ? groups * dtype_size(w.dtype) : 0;
  }
  return p;
}

constexpr size_t kAlign = 64;  // each part on its own cache lines
size_t aligned(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Drops this process's pages that lie wholly inside [p, p + bytes) of a file mapping.
void drop_pages(const uint8_t* p, size_t bytes) {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (uintptr_t(p) + page - 1) / page * page, end = (uintptr_t(p) + bytes) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);  // advice: pages stay if it fails
}

}  // namespace

ResidentWeights::ResidentWeights(const ModelProgram& source, bool huge_pages, bool drop_source_pages, ThreadPool& pool)
    : program_(source) {
  // Each distinct source array once (a tied output head is the embedding).
  struct Copy {
    const uint8_t* from;
    size_t bytes, at;
    const WeightMatrix* codes_of;  // codes: reordered as this matrix's rows
    CodeOrder order;
  };
  std::vector<Copy> copies;
  std::unordered_map<const uint8_t*, size_t> index;  // source array → its copy
  size_t total = 0;
  auto place = [&](const uint8_t* from, size_t bytes, const WeightMatrix* codes_of, CodeOrder order) {
    if (!from || !bytes) return;
    if (const auto seen = index.find(from); seen != index.end()) {
      const Copy& c = copies[seen->second];
      if (c.bytes != bytes || c.order != order)
        fail("model program: {} shares its weights with another matrix of another shape", codes_of ? codes_of->name : "a matrix");
      return;
    }
    index[from] = copies.size();
    copies.push_back({from, bytes, total, codes_of, order});
    total += aligned(bytes);
  };
  const bool fast = source.precision == Precision::Fast;
  each_matrix(source, [&](const WeightMatrix& w) {
    const Parts p = parts_of(w);
    place(w.data, p.data, w.quant ? &w : nullptr, fast && w.quant ? int8_code_order(w) : CodeOrder::Mlx);
    place(w.scales, p.scales, nullptr, CodeOrder::Mlx);
    place(w.biases, p.biases, nullptr, CodeOrder::Mlx);
  });
  memory_ = HugeBuffer::allocate(total, huge_pages, "the CPU backend's weights");
  uint8_t* base = memory_.data();
  // Copying faults in the new pages and reads the file's: both go faster on all cores.
  pool.parallel_for(int64_t(copies.size()), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const Copy& c = copies[size_t(i)];
      if (!c.codes_of || c.order == c.codes_of->order) {
        std::memcpy(base + c.at, c.from, c.bytes);
      } else {
        const WeightMatrix& w = *c.codes_of;
        for (int64_t r = 0; r < w.rows; ++r)
          reorder_codes(w, c.from + size_t(r) * w.row_bytes(), w.order, c.order, base + c.at + size_t(r) * w.row_bytes());
      }
      if (drop_source_pages) drop_pages(c.from, c.bytes);
    }
  });
  memory_.protect();
  each_matrix(program_, [&](WeightMatrix& w) {
    auto moved = [&](const uint8_t* p) { return p ? base + copies[index.at(p)].at : nullptr; };
    if (w.data) w.order = copies[index.at(w.data)].order;
    w.data = moved(w.data);
    w.scales = moved(w.scales);
    w.biases = moved(w.biases);
  });
}

}  // namespace mlxcpp::cpu
