#include "backend/cpu/resident_weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <span>
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

// madvise over the pages that overlap [p, p + bytes), within the mapping `within`. Advice
// only: where it fails, the pages are faulted in or kept as without it.
void advise_pages(const uint8_t* p, size_t bytes, std::span<const uint8_t> within, int advice) {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  const uintptr_t lo = uintptr_t(within.data()), hi = (uintptr_t(within.data()) + within.size() + page - 1) / page * page;
  const uintptr_t begin = std::max(lo, uintptr_t(p) / page * page);
  const uintptr_t end = std::min(hi, (uintptr_t(p) + bytes + page - 1) / page * page);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, advice);
}

// Copies are made a window of the source at a time: at most this much of one mapping.
constexpr size_t kWindowBytes = size_t(64) << 20;
// Work items of a window: at most this many bytes of one array.
constexpr size_t kItemBytes = size_t(4) << 20;

}  // namespace

ResidentWeights::ResidentWeights(const ModelProgram& source, bool huge_pages,
                                 std::span<const std::span<const uint8_t>> sources, ThreadPool& pool)
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
  // In the source's address order, a window of one mapping at a time: its pages brought in
  // with one call (in a VM each 4 KiB fault is a trip through the hypervisor: loading took
  // 8x longer by faults), copied on all cores, then dropped with one call (each drop
  // flushes the other threads' TLBs), so that peak RSS stays near one copy.
  auto mapping_of = [&](const uint8_t* p) -> int {
    for (size_t m = 0; m < sources.size(); ++m)
      if (p >= sources[m].data() && p < sources[m].data() + sources[m].size()) return int(m);
    return -1;
  };
  std::vector<size_t> order(copies.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return copies[a].from < copies[b].from; });
  struct Item {
    size_t copy, begin, end;  // bytes [begin, end) of the copy
  };
  std::vector<Item> items;
  for (size_t first = 0; first < order.size();) {
    const int m = mapping_of(copies[order[first]].from);
    size_t last = first + 1;
    const uint8_t* begin = copies[order[first]].from;
    while (last < order.size() && mapping_of(copies[order[last]].from) == m && m >= 0 &&
           size_t(copies[order[last]].from + copies[order[last]].bytes - begin) <= kWindowBytes)
      ++last;
    const Copy& tail = copies[order[last - 1]];
    const size_t span = size_t(tail.from + tail.bytes - begin);
    if (m >= 0) advise_pages(begin, span, sources[size_t(m)], MADV_POPULATE_READ);
    items.clear();
    for (size_t k = first; k < last; ++k) {
      const Copy& c = copies[order[k]];
      // Whole rows per item where the codes are reordered.
      const size_t unit = c.codes_of && c.order != c.codes_of->order ? c.codes_of->row_bytes() : 1;
      const size_t step = std::max(unit, kItemBytes / unit * unit);
      for (size_t b = 0; b < c.bytes; b += step) items.push_back({order[k], b, std::min(c.bytes, b + step)});
    }
    pool.parallel_for(int64_t(items.size()), [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const Item& it = items[size_t(i)];
        const Copy& c = copies[it.copy];
        if (!c.codes_of || c.order == c.codes_of->order) {
          std::memcpy(base + c.at + it.begin, c.from + it.begin, it.end - it.begin);
          continue;
        }
        const WeightMatrix& w = *c.codes_of;
        for (size_t r = it.begin; r < it.end; r += w.row_bytes())
          reorder_codes(w, c.from + r, w.order, c.order, base + c.at + r);
      }
    });
    if (m >= 0) advise_pages(begin, span, sources[size_t(m)], MADV_DONTNEED);
    first = last;
  }
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
