// Fuzzes the safetensors header parser: any byte string must either parse into a header
// whose tensors tile the data section, or throw mlxcpp::Error. Nothing else may happen.
#include <cstdlib>

#include "format/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto h = mlxcpp::parse_safetensors_header(data, size, "fuzz");
    uint64_t covered = 0;
    for (const auto& t : h.tensors) covered += t.nbytes();
    if (covered != size - 8 - h.header_bytes) std::abort();  // the tiling invariant
  } catch (const mlxcpp::Error&) {
  }
  return 0;
}
