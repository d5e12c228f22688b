// Hardware-aware recommendation: which catalogue model and quantization fit a memory budget,
// with the arithmetic shown. A model's need is
//   weights (its download size: the weights are mmapped as stored)
// + KV cache  (2 × layers × KV heads × head dim × context × 4 bytes: float32, the reference path's
//             KV cache; the default fast path stores bfloat16, so this bounds it from above)
// + runtime   (256 MiB + one 512-token prefill chunk of activations + two vocab-sized float rows)
// and it fits a device when need ≤ headroom × memory (85 % of RAM, 92 % of VRAM).
// Its expected decode speed there is the device's memory bandwidth over the bytes one token
// reads (the weights — for a mixture of experts, active/total of them — and the bf16 KV
// cache at the full context); a model slower than
// kMinTokensPerSecond is only chosen when nothing faster fits, and the explanation says so.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "catalogue/catalogue.h"
#include "hardware/hardware.h"

namespace mlxcpp {

inline constexpr double kRamHeadroom = 0.85;
inline constexpr double kVramHeadroom = 0.92;
inline constexpr int64_t kDefaultContext = 4096;
inline constexpr double kMinTokensPerSecond = 5.0;

struct MemoryNeed {
  uint64_t weights = 0, kv_cache = 0, runtime = 0;
  uint64_t total() const { return weights + kv_cache + runtime; }
  std::string arithmetic;  // "weights 4.50 GB + KV cache ... = 6.03 GB"
};

// For a catalogue entry at a context length (KV needs the entry's shape; without one the KV
// term is 0 and the arithmetic says so).
MemoryNeed estimate_memory(const CatalogueEntry& entry, int64_t context);
// For weights of a known size and an optional shape (a model not in the catalogue).
MemoryNeed estimate_memory(uint64_t weight_bytes, const ModelShape& shape, int64_t context);

struct MemoryBudget {
  uint64_t ram_bytes = 0, vram_bytes = 0;  // 0: none
  // Read bandwidth in bytes/s (0: unknown): the GPU's peak from NVML; RAM's when the caller
  // measured it (hardware/bandwidth.h).
  double ram_bandwidth = 0, vram_bandwidth = 0;
  std::string ram_bandwidth_source, vram_bandwidth_source;
  std::string ram_source, vram_source;    // "--ram-gb", "available RAM", "GPU 0 free memory"
  static MemoryBudget from(const HardwareInfo& hw, std::optional<double> ram_gb, std::optional<double> vram_gb);
  // from(), and this machine's RAM read bandwidth measured (about 0.1 s) for the speed estimate.
  static MemoryBudget measured(const HardwareInfo& hw, std::optional<double> ram_gb, std::optional<double> vram_gb);
  uint64_t usable_ram() const { return uint64_t(double(ram_bytes) * kRamHeadroom); }
  uint64_t usable_vram() const { return uint64_t(double(vram_bytes) * kVramHeadroom); }
  nlohmann::json to_json() const;
};

struct FitCheck {
  bool fits = false;
  std::string device;   // "cuda" or "cpu" when it fits
  std::string message;  // the arithmetic and the verdict
};
FitCheck check_fit(const MemoryNeed& need, const MemoryBudget& budget);

struct RecommendRequest {
  std::string task = "general";  // code, general, fast, quality, reasoning, multilingual
  int64_t context = kDefaultContext;
};

struct Candidate {
  const CatalogueEntry* entry = nullptr;
  MemoryNeed need;
  FitCheck fit;
  double score = 0;    // higher is better: effective_parameters_b × the quantization's quality factor
  uint64_t bytes_per_token = 0;
  double tokens_per_s = 0;  // expected decode speed on its device; 0: bandwidth unknown
  std::string reason;  // why it was not chosen, for rejected ones
  nlohmann::json to_json() const;
};

struct Recommendation {
  RecommendRequest request;
  MemoryBudget budget;
  std::optional<Candidate> choice;
  std::vector<Candidate> alternatives;  // also fit, lower score
  std::vector<Candidate> rejected;      // of the task's category, with the reason
  std::string other_category;           // when nothing in the task's category fits: the choice's
  std::string explanation;
  nlohmann::json to_json() const;
};

// The task's catalogue category ("fast" → "small-fast"); throws Error for unknown tasks.
std::string category_for_task(const std::string& task);
double quantization_quality(const std::string& quantization);
// The size that stands for a model's quality in the score: its parameters, or for a mixture
// of experts the geometric mean of its total and active parameters (the rule of thumb that
// a 30B-A3B model answers about as a 10B dense one).
double effective_parameters_b(const CatalogueEntry& entry);

Recommendation recommend(const Catalogue& catalogue, const RecommendRequest& request, const MemoryBudget& budget);

std::string format_size(uint64_t bytes);  // "4.50 GB", "12.3 MB", "4.1 KB" (powers of 10, as download sizes are quoted)

}  // namespace mlxcpp
