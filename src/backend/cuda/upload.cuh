// Device memory for weights: an arena of plain cudaMalloc memory carved up in order, and
// the upload of linear-layer weights into it.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/cuda/device_matrix.cuh"

namespace mlxcpp::cuda {

constexpr uint64_t kAlign = 256;

inline std::string gib(uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", double(b) / double(1ull << 30));
  return buf;
}

// Sizes are declared first (reserve, or take before allocate: a measuring pass that
// returns null pointers), then one allocation is made and handed out (take, again).
class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() {
    if (base_) cudaFree(base_);
  }
  void reserve(uint64_t bytes) { want_ += (bytes + kAlign - 1) / kAlign * kAlign; }
  uint64_t size() const { return want_; }
  void allocate() {
    if (want_) MLXCPP_CUDA_CHECK(cudaMalloc(&base_, want_));
  }
  template <typename T>
  T* take(uint64_t bytes) {
    if (!base_) {
      reserve(bytes);
      return nullptr;
    }
    uint8_t* p = static_cast<uint8_t*>(base_) + used_;
    used_ += (bytes + kAlign - 1) / kAlign * kAlign;
    if (used_ > want_) throw std::logic_error("cuda arena overrun");
    return reinterpret_cast<T*>(p);
  }

 private:
  void* base_ = nullptr;
  uint64_t want_ = 0, used_ = 0;
};

// Arena bytes that upload_matrices needs for this weight.
uint64_t matrix_upload_bytes(const MatrixPlan& m);

// Uploads the parts (one matrix, or several sharing cols) as one matrix with their rows
// stacked when they share a format, else one each. 4-bit affine weights are repacked
// (DevMatrix::nibbles_split). Synchronous.
std::vector<DevMatrix> upload_matrices(Arena& arena, const std::vector<MatrixPlan>& parts);

}  // namespace mlxcpp::cuda
