// The engine options every model-running command shares (--threads, --precision,
// --device), declared once, and the one place that loads a model with them.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "backend/device_info.h"
#include "model/decoder_lm.h"

namespace mlxcpp::cli {

struct EngineOptions {
  int threads = 0;
  std::string precision = "fast";
  std::string device = "auto";

  void add_to(CLI::App* cmd) {
    cmd->add_option("--threads", threads, "CPU worker threads (default: all cores)");
    cmd->add_option("--precision", precision, "f32 (exact reference path) or fast")
        ->check(CLI::IsMember({"f32", "fast"}))
        ->capture_default_str();
    cmd->add_option("--device", device, "auto (CUDA when a GPU can run the model), cpu or cuda")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}))
        ->capture_default_str();
  }
  Precision precision_value() const { return precision == "f32" ? Precision::F32 : Precision::Fast; }
  Device device_value() const { return resolve_device(device); }

  // Loads the model; says on stderr where it runs when that is a GPU.
  std::unique_ptr<DecoderLM> load(const std::filesystem::path& dir) const {
    auto model = DecoderLM::load(dir, threads, precision_value(), device_value());
    if (model->device() == Device::Cuda) std::fprintf(stderr, "running on %s\n", model->device_description().c_str());
    return model;
  }
};

}  // namespace mlxcpp::cli
