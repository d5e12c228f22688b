#include "model/rope.h"

#include <cmath>
#include <algorithm>
#include <numbers>

#include "util/error.h"

namespace mlxcpp {

Rope::Rope(const ModelConfig& c) : cfg_(&c) {
  dims_ = int64_t(double(c.head_dim) * c.partial_rotary_factor);
  traditional_ = c.rope_traditional;
  base_ = c.rope_theta;
  type_ = c.rope_scaling ? c.rope_scaling->type : "default";
  const int64_t half = dims_ / 2;
  std::vector<double> base_inv(static_cast<size_t>(half), 0.0);
  // transformers computes the inverse frequencies in float32: 1 / base^(2i/dims).
  for (int64_t i = 0; i < half; ++i)
    base_inv[size_t(i)] = double(1.0f / std::pow(float(base_), float(2 * i) / float(dims_)));

  if (type_ == "default") {
    fixed_inv_freq_ = base_inv;
  } else if (type_ == "linear") {
    fixed_inv_freq_ = base_inv;
    position_scale_ = 1.0 / c.rope_scaling->factor;
  } else if (type_ == "dynamic") {
    // computed per call
  } else if (type_ == "llama3") {
    const RopeScaling& r = *c.rope_scaling;
    const double old = double(r.original_max_position_embeddings.value_or(8192));
    const double low_wavelen = old / r.low_freq_factor, high_wavelen = old / r.high_freq_factor;
    for (double f : base_inv) {
      const double wavelen = 2 * std::numbers::pi / f;
      if (wavelen < high_wavelen) {
        fixed_inv_freq_.push_back(f);
      } else if (wavelen > low_wavelen) {
        fixed_inv_freq_.push_back(f / r.factor);
      } else {
        const double s = (old / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
        fixed_inv_freq_.push_back((1 - s) * f / r.factor + s * f);
      }
    }
  } else if (type_ == "yarn") {
    const RopeScaling& r = *c.rope_scaling;
    const double orig = double(r.original_max_position_embeddings.value_or(4096));
    auto corr_dim = [&](double rot) {
      return double(dims_) * std::log(orig / (rot * 2 * std::numbers::pi)) / (2 * std::log(base_));
    };
    // (transformers rounds the range out to whole dimensions unless `truncate` is false, as
    // gpt-oss's configs say; mlx-lm always rounds: docs/deviations.md.)
    double low = corr_dim(r.beta_fast), high = corr_dim(r.beta_slow);
    if (r.truncate) low = std::floor(low), high = std::ceil(high);
    low = std::max(low, 0.0);
    high = std::min(high, double(dims_ - 1));
    if (high == low) high += 0.001;
    for (int64_t i = 0; i < half; ++i) {
      const double ramp = std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
      const double mask = 1.0 - ramp;  // 1: keep the original frequency (extrapolation)
      const double f = base_inv[size_t(i)];
      fixed_inv_freq_.push_back(f * mask + f / r.factor * (1 - mask));
    }
    auto g = [](double s, double m) { return s <= 1 ? 1.0 : 0.1 * m * std::log(s) + 1.0; };
    mscale_ = float(g(r.factor, r.mscale) / g(r.factor, r.mscale_all_dim));
  } else if (type_ == "longrope" || type_ == "su") {
    const RopeScaling& r = *c.rope_scaling;
    if (int64_t(r.long_factor.size()) != half || (!r.short_factor.empty() && int64_t(r.short_factor.size()) != half))
      fail("rope_scaling: longrope factors must have {} entries (rotary dims / 2)", half);
    for (int64_t i = 0; i < half; ++i) {
      long_inv_freq_.push_back(base_inv[size_t(i)] / r.long_factor[size_t(i)]);
      short_inv_freq_.push_back(base_inv[size_t(i)] / (r.short_factor.empty() ? 1.0 : r.short_factor[size_t(i)]));
    }
    const double orig = double(c.original_max_position_embeddings.value_or(4096));
    const double factor = double(c.context_length()) / orig;
    mscale_ = factor <= 1 ? 1.0f : float(std::sqrt(1 + std::log(factor) / std::log(orig)));
  } else {
    fail("rope type '{}' is not supported", type_);
  }
}

void Rope::append_inv_freq(int64_t total_len, std::vector<float>& out) const {
  if (type_ == "dynamic") {
    const double max_pos = double(cfg_->context_length());
    const double seq = std::max(double(total_len), max_pos);
    const double factor = cfg_->rope_scaling->factor;
    const double base = base_ * std::pow(factor * seq / max_pos - (factor - 1), double(dims_) / double(dims_ - 2));
    for (int64_t i = 0; i < dims_ / 2; ++i) out.push_back(float(std::pow(base, -2.0 * double(i) / double(dims_))));
    return;
  }
  const std::vector<double>* f = &fixed_inv_freq_;
  if (type_ == "longrope" || type_ == "su")
    // transformers picks the factors by the sequence length (mlx-lm always uses the long
    // ones; we follow transformers, see docs/deviations.md).
    f = total_len > cfg_->original_max_position_embeddings.value_or(4096) ? &long_inv_freq_ : &short_inv_freq_;
  for (const double v : *f) out.push_back(float(v));
}

}  // namespace mlxcpp
