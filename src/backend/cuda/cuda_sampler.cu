// DeviceSampler on CUDA: the decoder's draw kernel on logits uploaded from the host, for
// the test that holds it to the host sampler.
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/cuda/kernels.cuh"
#include "backend/cuda/device_ops.h"

namespace mlxcpp::cuda {
namespace {

class CudaSampler final : public DeviceSampler {
 public:
  explicit CudaSampler(int64_t vocab) : vocab_(vocab) {
    if (vocab > kMaxDrawVocab) throw std::runtime_error("a vocabulary larger than the draw kernel takes");
    MLXCPP_CUDA_CHECK(cudaMalloc(&logits_, size_t(vocab + 4) * 4));  // read in groups of 4
    MLXCPP_CUDA_CHECK(cudaMalloc(&params_, sizeof(DrawParams)));
    MLXCPP_CUDA_CHECK(cudaMalloc(&key_, sizeof *key_));
    MLXCPP_CUDA_CHECK(cudaMalloc(&mask_, size_t(mask_words()) * 4));
    host_params_ = new DrawParams;
  }
  ~CudaSampler() override {
    for (void* p : {static_cast<void*>(logits_), static_cast<void*>(params_), static_cast<void*>(key_),
                    static_cast<void*>(mask_)})
      cudaFree(p);
    delete host_params_;
  }

  int32_t draw(const float* logits, const TokenDraw& d) override {
    if (!pack_draw(d, host_params_)) throw std::runtime_error("too many logit edits: " + std::to_string(d.edits.size()));
    if (d.allowed) {
      std::vector<uint32_t> words(static_cast<size_t>(mask_words()));
      write_draw_mask(d, mask_words(), words.data());
      MLXCPP_CUDA_CHECK(cudaMemcpy(mask_, words.data(), words.size() * 4, cudaMemcpyHostToDevice));
      host_params_->allowed = mask_;
    }
    MLXCPP_CUDA_CHECK(cudaMemcpy(logits_, logits, size_t(vocab_) * 4, cudaMemcpyHostToDevice));
    MLXCPP_CUDA_CHECK(cudaMemcpy(params_, host_params_, sizeof(DrawParams), cudaMemcpyHostToDevice));
    draw_token(logits_, vocab_, params_, key_, nullptr);
    unsigned long long key = 0;
    MLXCPP_CUDA_CHECK(cudaMemcpy(&key, key_, sizeof key, cudaMemcpyDeviceToHost));
    return int32_t(0xFFFFFFFFu - uint32_t(key & 0xFFFFFFFFu));
  }

 private:
  int64_t vocab_;
  float* logits_ = nullptr;
  DrawParams *params_ = nullptr, *host_params_ = nullptr;
  unsigned long long* key_ = nullptr;
  uint32_t* mask_ = nullptr;
  int64_t mask_words() const { return (vocab_ + 31) / 32; }
};

}  // namespace
}  // namespace mlxcpp::cuda

namespace mlxcpp {

std::unique_ptr<DeviceSampler> make_cuda_sampler(int64_t vocab) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) throw std::runtime_error("no CUDA device is available");
  return std::make_unique<cuda::CudaSampler>(vocab);
}

}  // namespace mlxcpp
