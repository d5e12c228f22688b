#include "quant/quant_spec.h"

#include <fmt/format.h>

#include "util/error.h"

namespace mlxcpp {

std::string_view quant_mode_name(QuantMode m) {
  switch (m) {
    case QuantMode::Affine: return "affine";
    case QuantMode::MxFp4: return "mxfp4";
    case QuantMode::MxFp8: return "mxfp8";
    case QuantMode::NvFp4: return "nvfp4";
  }
  return "?";
}

std::optional<QuantMode> parse_quant_mode(std::string_view name) {
  for (QuantMode m : {QuantMode::Affine, QuantMode::MxFp4, QuantMode::MxFp8, QuantMode::NvFp4})
    if (quant_mode_name(m) == name) return m;
  return std::nullopt;
}

std::string QuantSpec::to_string() const {
  return fmt::format("{} {}-bit g{}", quant_mode_name(mode), bits, group_size);
}

QuantSpec default_quant_spec(QuantMode mode) {
  switch (mode) {
    case QuantMode::Affine: return {mode, 4, 64};
    case QuantMode::MxFp4: return {mode, 4, 32};
    case QuantMode::MxFp8: return {mode, 8, 32};
    case QuantMode::NvFp4: return {mode, 4, 16};
  }
  return {};
}

void validate_quant_spec(const QuantSpec& s, const std::string& where) {
  if (s.mode == QuantMode::Affine) {
    if (s.bits != 2 && s.bits != 3 && s.bits != 4 && s.bits != 5 && s.bits != 6 && s.bits != 8)
      fail("{}: affine quantization supports bits 2, 3, 4, 5, 6, 8, got {}", where, s.bits);
    if (s.group_size != 32 && s.group_size != 64 && s.group_size != 128)
      fail("{}: affine quantization supports group_size 32, 64, 128, got {}", where, s.group_size);
    return;
  }
  const QuantSpec want = default_quant_spec(s.mode);
  if (s.bits != want.bits || s.group_size != want.group_size)
    fail("{}: {} requires bits {} and group_size {}, got bits {} and group_size {}", where,
         quant_mode_name(s.mode), want.bits, want.group_size, s.bits, s.group_size);
}

}  // namespace mlxcpp
