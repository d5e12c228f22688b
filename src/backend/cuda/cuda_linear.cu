// DeviceLinear on CUDA: one uploaded weight and the scratch linear() needs.
#include "backend/cuda/cublas_loader.h"

#include <algorithm>

#include "backend/cuda/gemv.cuh"
#include "backend/cuda/kernels.cuh"
#include "backend/cuda/upload.cuh"
#include "backend/cuda/device_ops.h"

namespace mlxcpp::cuda {
namespace {

class CudaLinear final : public DeviceLinear {
 public:
  CudaLinear(const MatrixPlan& w, bool f32, int tensor_core_rows, bool decode) : f32_(f32), decode_(decode) {
    s_.tensor_core_rows = tensor_core_rows;
    weights_.reserve(matrix_upload_bytes(w));
    weights_.allocate();
    m_ = upload_matrices(weights_, {w}).front();
    if (blas::create(&s_.cublas) != CUBLAS_STATUS_SUCCESS) throw std::runtime_error("cuBLAS could not start");
  }
  ~CudaLinear() override {
    blas::destroy(s_.cublas);
    free_buffers();
  }

  void run(const float* x, int64_t n, float* y) override {
    ensure(n);
    MLXCPP_CUDA_CHECK(cudaMemcpy(x_, x, size_t(n * m_.cols) * 4, cudaMemcpyHostToDevice));
    // Rows up to a decode pass's count take the decode kernels, as in the backend.
    const Product product = (decode_ || s_.tensor_core_rows > 0) && n <= 128 ? Product::Gemv : Product::Auto;
    linear(m_, XIn{x_, nullptr, nullptr}, int(n), y_, m_.rows, f32_, s_, nullptr, product);
    MLXCPP_CUDA_CHECK(cudaMemcpy(y, y_, size_t(n * m_.rows) * 4, cudaMemcpyDeviceToHost));
  }

 private:
  void ensure(int64_t n) {
    if (n <= n_) return;
    free_buffers();
    MLXCPP_CUDA_CHECK(cudaMalloc(&x_, size_t(n * m_.cols) * 4));
    MLXCPP_CUDA_CHECK(cudaMalloc(&y_, size_t(n * m_.rows) * 4));
    s_.tile_elems = std::max<int64_t>(m_.cols, std::min<int64_t>(m_.rows * m_.cols, int64_t(16) << 20));
    MLXCPP_CUDA_CHECK(cudaMalloc(&s_.tile, size_t(s_.tile_elems) * 4));
    s_.x_elems = std::max<int64_t>(n, kMaxGemvRows) * m_.cols;
    MLXCPP_CUDA_CHECK(cudaMalloc(&s_.xconv, size_t(s_.x_elems) * 2));
    s_.xd_blocks = s_.x_elems / 32 + 1;
    MLXCPP_CUDA_CHECK(cudaMalloc(&s_.xd, size_t(s_.xd_blocks) * sizeof(float2)));
    s_.tc_partial_elems = s_.tensor_core_rows > 0 ? tensor_core_partial_elems(m_.rows, m_.cols, int(n)) : 0;
    if (s_.tc_partial_elems) MLXCPP_CUDA_CHECK(cudaMalloc(&s_.tc_partial, size_t(s_.tc_partial_elems) * 4));
    n_ = n;
  }
  void free_buffers() {
    for (void* p : {static_cast<void*>(x_), static_cast<void*>(y_), s_.tile, s_.xconv, static_cast<void*>(s_.xd),
                    static_cast<void*>(s_.tc_partial)})
      if (p) cudaFree(p);
    x_ = y_ = s_.tc_partial = nullptr;
    s_.tile = s_.xconv = nullptr;
    s_.xd = nullptr;
  }

  bool f32_, decode_;
  Arena weights_;
  DevMatrix m_;
  MatmulScratch s_;
  float *x_ = nullptr, *y_ = nullptr;
  int64_t n_ = 0;
};

}  // namespace
}  // namespace mlxcpp::cuda

namespace mlxcpp {

std::unique_ptr<DeviceLinear> make_cuda_linear(const MatrixPlan& weight, bool f32, int tensor_core_rows, bool decode) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) throw std::runtime_error("no CUDA device is available");
  return std::make_unique<cuda::CudaLinear>(weight, f32, tensor_core_rows, decode);
}

}  // namespace mlxcpp
