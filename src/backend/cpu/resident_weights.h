// The CPU backend's own copy of a program's weight matrices: their codes, scales and
// biases in one block of memory on huge pages (util/huge_buffer.h), the codes in the order
// that this CPU's kernels read (cpu::int8_code_order: the VNNI kernels' group lanes), and a
// copy of the program that points at them. Decode streams every matrix once per token, so
// where they live and in what order is the CPU's counterpart of the CUDA backend's upload.
// The source program is untouched: its file pages can be dropped afterwards
// (MappedFile::release_resident), and another backend can still read them.
#pragma once

#include <cstdint>
#include <span>

#include "backend/program.h"
#include "util/huge_buffer.h"

namespace mlxcpp {

class ThreadPool;

namespace cpu {

class ResidentWeights {
 public:
  // sources: the page-cache file mappings (Residency::PageCache) that the program's arrays
  // lie in, if it is known: their pages are dropped as they are copied (they are read again
  // from the file if touched), so that peak RSS stays near one copy.
  ResidentWeights(const ModelProgram& source, bool huge_pages, std::span<const std::span<const uint8_t>> sources,
                  ThreadPool& pool);
  const ModelProgram& program() const { return program_; }
  uint64_t bytes() const { return memory_.size(); }
  bool on_huge_pages() const { return memory_.on_huge_pages(); }

 private:
  ModelProgram program_;
  HugeBuffer memory_;
};

}  // namespace cpu
}  // namespace mlxcpp
