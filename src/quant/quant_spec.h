// MLX quantization formats: which mode, how many bits per element, how many elements
// share one scale. Valid combinations are those MLX's kernels are instantiated for.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mlxcpp {

enum class QuantMode { Affine, MxFp4, MxFp8, NvFp4 };

std::string_view quant_mode_name(QuantMode m);  // "affine", "mxfp4", ...
std::optional<QuantMode> parse_quant_mode(std::string_view name);

struct QuantSpec {
  QuantMode mode = QuantMode::Affine;
  int bits = 4;
  int group_size = 64;

  bool operator==(const QuantSpec&) const = default;
  bool has_biases() const { return mode == QuantMode::Affine; }
  std::string to_string() const;  // e.g. "affine 4-bit g64"
};

// mlx-lm's defaults when --q-bits / --q-group-size are left unset.
QuantSpec default_quant_spec(QuantMode mode);

// Throws Error naming `where` if the combination is not one MLX supports.
void validate_quant_spec(const QuantSpec& spec, const std::string& where);

}  // namespace mlxcpp
