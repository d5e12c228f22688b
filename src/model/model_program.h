// A model made ready to run: its configuration, its weights mapped and bound by name, and
// the program that describes its computation (backend/program.h) — the one description
// every backend executes. The per-architecture differences come from ArchTraits
// (model/architecture.h); nothing here computes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "backend/program.h"
#include "format/model_config.h"
#include "format/weight_set.h"
#include "model/architecture.h"
#include "model/rope.h"
#include "model/weight_binding.h"

namespace mlxcpp {

class LoadedModel {
 public:
  // Reads config.json and binds every weight, checking names, shapes and dtypes (errors
  // name the tensor). `residency`: how the files are held (util/mapped_file.h).
  static std::unique_ptr<LoadedModel> load(const std::filesystem::path& dir, Residency residency, Precision precision);
  LoadedModel(const LoadedModel&) = delete;
  LoadedModel& operator=(const LoadedModel&) = delete;

  const ModelConfig& config() const { return cfg_; }
  const ArchTraits& traits() const { return traits_; }
  const WeightSet& weights() const { return weights_; }
  const ModelProgram& program() const { return program_; }
  // The inverse frequencies of every RoPE of the program, in order, for a sequence whose
  // pass ends at `total_len` positions (dynamic NTK and longrope depend on it).
  void rope_freqs(int64_t total_len, std::vector<float>& out) const;

 private:
  LoadedModel(ModelConfig cfg, WeightSet ws, Precision precision);
  ModelConfig cfg_;
  ArchTraits traits_;
  WeightSet weights_;
  OwnedData owned_;
  ModelConfig local_rope_config_;  // gemma3's sliding layers' RoPE (its Rope points here)
  std::vector<Rope> ropes_;
  ModelProgram program_;
};

}  // namespace mlxcpp
