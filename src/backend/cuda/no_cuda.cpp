// The CUDA entry points of a build without CUDA: they say so instead of pretending there
// is no GPU.
#include "backend/backend.h"
#include "backend/cuda/device_ops.h"
#include "backend/device_info.h"
#include "util/error.h"

namespace mlxcpp {

bool cuda_inference_available() { return false; }

bool built_with_cuda() { return false; }

std::vector<GpuInfo> cuda_devices(std::string* why) {
  if (why) *why = "this mlxcpp was built without CUDA (configure with -DMLXCPP_CUDA=ON)";
  return {};
}

std::unique_ptr<DeviceLinear> make_cuda_linear(const MatrixPlan&, bool, int, bool) {
  fail("this mlxcpp was built without CUDA (configure with -DMLXCPP_CUDA=ON)");
}

std::unique_ptr<DeviceSampler> make_cuda_sampler(int64_t) {
  fail("this mlxcpp was built without CUDA (configure with -DMLXCPP_CUDA=ON)");
}

std::vector<float> cuda_attention(const AttentionProblem&) {
  fail("this mlxcpp was built without CUDA (configure with -DMLXCPP_CUDA=ON)");
}

Routing cuda_route(const std::vector<float>&, int, int, int, bool) {
  fail("this mlxcpp was built without CUDA (configure with -DMLXCPP_CUDA=ON)");
}

void set_single_block_draw(bool) {}

// Nothing to fall back from: make_cuda_backend says that CUDA is absent.
std::string cuda_unsupported(const ModelProgram&) { return ""; }

std::unique_ptr<Backend> make_cuda_backend(const ModelProgram&, const CudaOptions&) {
  fail("this mlxcpp was built without CUDA (configure with -DMLXCPP_CUDA=ON)");
}

}  // namespace mlxcpp
