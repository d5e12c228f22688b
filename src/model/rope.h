// Rotary position embeddings for every rope_scaling type the catalogue uses: default,
// linear, dynamic (NTK), llama3, yarn, and phi3's longrope/su: the inverse frequencies and
// constants a backend rotates with (backend/program.h's RopeSpec).
#pragma once

#include <cstdint>
#include <vector>

#include "format/model_config.h"

namespace mlxcpp {

class Rope {
 public:
  explicit Rope(const ModelConfig& config);

  int64_t dims() const { return dims_; }
  bool traditional() const { return traditional_; }
  double position_scale() const { return position_scale_; }
  // Appends the inverse frequencies (dims/2) for a sequence of total_len positions, as
  // float32 (no allocation beyond `out`'s own growth: this runs for every sequence of
  // every step).
  void append_inv_freq(int64_t total_len, std::vector<float>& out) const;
  float mscale() const { return mscale_; }  // yarn / longrope attention factor on q and k

 private:
  const ModelConfig* cfg_;
  int64_t dims_;
  bool traditional_;
  double base_;
  double position_scale_ = 1.0;
  float mscale_ = 1.0f;
  std::string type_;
  std::vector<double> fixed_inv_freq_;  // for types that do not depend on the length
  std::vector<double> short_inv_freq_, long_inv_freq_;  // longrope
};

}  // namespace mlxcpp
