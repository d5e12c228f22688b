#include "backend/device_info.h"

namespace mlxcpp {

bool built_with_cuda() { return false; }

std::vector<GpuInfo> cuda_devices(std::string* why) {
  if (why) *why = "this mlxcpp was built without CUDA (configure with -DMLXCPP_CUDA=ON)";
  return {};
}

}  // namespace mlxcpp
