#include "backend/device_info.h"
#include "util/error.h"

namespace mlxcpp {

std::string_view device_name(Device d) { return d == Device::Cuda ? "cuda" : "cpu"; }

Device resolve_device(std::string_view name) {
  if (name == "cpu") return Device::Cpu;
  if (name != "cuda" && name != "auto") fail("--device must be auto, cpu or cuda, not '{}'", name);
  std::string why;
  const bool usable = cuda_inference_available() && !cuda_devices(&why).empty();
  if (usable) return Device::Cuda;
  if (name == "cuda") fail("--device cuda: {}", why.empty() ? "this build cannot run models on CUDA" : why);
  return Device::Cpu;
}

}  // namespace mlxcpp
