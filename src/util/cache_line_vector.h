// A std::vector whose storage starts on a 64-byte cache line. The SIMD kernels read
// their operands 64 bytes at a time; from a buffer that ordinary allocation leaves 16
// bytes off a line, every such load touches two lines, and the CPU's int8 products ran
// at about 60 % of their speed on aligned data (bench/RESULTS.md, session 22).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace mlxcpp {

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};

  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}

  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, size_t) noexcept { ::operator delete(p, kAlignment); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using CacheLineVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace mlxcpp
