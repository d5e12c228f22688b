// Fuzzes config.json parsing (JSON text → typed ModelConfig, quantization included).
#include <nlohmann/json.hpp>

#include "format/model_config.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    (void)mlxcpp::parse_model_config(j, "fuzz");
  } catch (const mlxcpp::Error&) {
  }
  return 0;
}
