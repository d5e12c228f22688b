#include "backend/device_info.h"

namespace mlxcpp {

bool cuda_inference_available() { return false; }  // the CUDA decoder is not written yet

bool built_with_cuda() { return false; }

std::vector<GpuInfo> cuda_devices(std::string* why) {
  if (why) *why = "this mlxcpp was built without CUDA (configure with -DMLXCPP_CUDA=ON)";
  return {};
}

}  // namespace mlxcpp
