// The quantization options shared by `convert` and `synth` (-q, --q-bits,
// --q-group-size, --q-mode), declared once.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>

#include "quant/quant_spec.h"
#include "util/error.h"

namespace mlxcpp::cli {

struct QuantOptions {
  bool quantize = false;
  std::optional<int> bits;
  std::optional<int> group_size;
  std::optional<std::string> mode;

  void add_to(CLI::App* cmd) {
    cmd->add_flag("-q,--quantize", quantize, "Quantize the weights");
    cmd->add_option("--q-bits", bits, "Bits per weight (default: the mode's, 4 for affine)");
    cmd->add_option("--q-group-size", group_size, "Elements per scale (default: the mode's, 64 for affine)");
    cmd->add_option("--q-mode", mode, "affine (default), mxfp4, mxfp8 or nvfp4; implies -q")
        ->check(CLI::IsMember({"affine", "mxfp4", "mxfp8", "nvfp4"}));
  }

  std::optional<QuantSpec> spec() const {
    // A quantization mode asks for quantization: never an unquantized copy in silence.
    if (!quantize && !mode) {
      if (bits || group_size) fail("--q-bits / --q-group-size need -q");
      return std::nullopt;
    }
    QuantSpec s = default_quant_spec(*parse_quant_mode(mode.value_or("affine")));
    if (bits) s.bits = *bits;
    if (group_size) s.group_size = *group_size;
    validate_quant_spec(s, "quantization options");
    return s;
  }
};

}  // namespace mlxcpp::cli
