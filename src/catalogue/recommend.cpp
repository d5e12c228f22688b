#include "catalogue/recommend.h"

#include <cmath>

#include <fmt/format.h>

#include <algorithm>

#include "hardware/bandwidth.h"
#include "util/error.h"

namespace mlxcpp {

namespace {

constexpr uint64_t kRuntimeBase = 256ull << 20;
constexpr int64_t kPrefillChunk = 512;
constexpr uint64_t kKvBytesPerValue = 4;  // float32 K and V

}  // namespace

std::string format_size(uint64_t bytes) {
  const double b = double(bytes);
  if (b >= 1e9) return fmt::format("{:.2f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.1f} MB", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.1f} KB", b / 1e3);
  return fmt::format("{} bytes", bytes);
}

MemoryNeed estimate_memory(uint64_t weight_bytes, const ModelShape& shape, int64_t context) {
  MemoryNeed n;
  n.weights = weight_bytes;
  std::string kv_text;
  if (shape.known()) {
    n.kv_cache = 2 * uint64_t(shape.layers) * uint64_t(shape.kv_heads) * uint64_t(shape.head_dim) * uint64_t(context) *
                 kKvBytesPerValue;
    kv_text = fmt::format("KV cache {} (2 × {} layers × {} KV heads × {} dims × {} tokens × 4 B)", format_size(n.kv_cache),
                          shape.layers, shape.kv_heads, shape.head_dim, context);
  } else {
    kv_text = "KV cache unknown (model shape not in the catalogue; counted as 0)";
  }
  // Activations of one prefill chunk: hidden-sized rows plus the MLP's ~3.5× wider ones,
  // about 24 floats per hidden unit per token; and two vocab-sized rows (logits, sampler).
  const uint64_t hidden = uint64_t(std::max<int64_t>(shape.hidden, 4096));
  const uint64_t vocab = uint64_t(std::max<int64_t>(shape.vocab, 32000));
  n.runtime = kRuntimeBase + uint64_t(kPrefillChunk) * hidden * 24 * 4 + 2 * vocab * 4;
  n.arithmetic = fmt::format("weights {} + {} + runtime {} = {}", format_size(n.weights), kv_text, format_size(n.runtime),
                             format_size(n.total()));
  return n;
}

MemoryNeed estimate_memory(const CatalogueEntry& e, int64_t context) {
  return estimate_memory(uint64_t(e.size_gb * 1e9), e.shape, context);
}

MemoryBudget MemoryBudget::from(const HardwareInfo& hw, std::optional<double> ram_gb, std::optional<double> vram_gb) {
  MemoryBudget b;
  if (ram_gb) {
    if (*ram_gb < 0) fail("--ram-gb must be ≥ 0 (got {})", *ram_gb);
    b.ram_bytes = uint64_t(*ram_gb * 1e9), b.ram_source = "--ram-gb";
  } else {
    b.ram_bytes = hw.usable_ram_bytes();
    b.ram_source = hw.cgroup_limit_bytes ? "available RAM (cgroup-limited)" : "available RAM";
  }
  if (vram_gb) {
    if (*vram_gb < 0) fail("--vram-gb must be ≥ 0 (got {})", *vram_gb);
    b.vram_bytes = uint64_t(*vram_gb * 1e9), b.vram_source = "--vram-gb";
  } else if (!hw.gpus.empty() && cuda_inference_available()) {
    const auto best = std::max_element(hw.gpus.begin(), hw.gpus.end(),
                                       [](const GpuInfo& a, const GpuInfo& c) { return a.free_bytes < c.free_bytes; });
    b.vram_bytes = best->free_bytes;
    b.vram_source = fmt::format("free memory of GPU {} ({})", best->index, best->name);
    if (best->memory_bandwidth > 0)
      b.vram_bandwidth = best->memory_bandwidth, b.vram_bandwidth_source = fmt::format("GPU {} peak (NVML)", best->index);
  }
  return b;
}

MemoryBudget MemoryBudget::measured(const HardwareInfo& hw, std::optional<double> ram_gb, std::optional<double> vram_gb) {
  MemoryBudget b = from(hw, ram_gb, vram_gb);
  const int threads = std::max(1, hw.logical_cores);
  b.ram_bandwidth = measure_read_bandwidth(threads, size_t(256) << 20, 5);
  b.ram_bandwidth_source = fmt::format("measured, {} threads", threads);
  return b;
}

nlohmann::json MemoryBudget::to_json() const {
  return {{"ram_bytes", ram_bytes}, {"ram_source", ram_source}, {"usable_ram_bytes", usable_ram()},
          {"vram_bytes", vram_bytes}, {"vram_source", vram_source}, {"usable_vram_bytes", usable_vram()},
          {"ram_headroom", kRamHeadroom}, {"vram_headroom", kVramHeadroom},
          {"ram_bandwidth_bytes_per_s", ram_bandwidth}, {"vram_bandwidth_bytes_per_s", vram_bandwidth}};
}

FitCheck check_fit(const MemoryNeed& need, const MemoryBudget& b) {
  FitCheck f;
  const uint64_t total = need.total();
  if (b.vram_bytes > 0 && total <= b.usable_vram()) {
    f.fits = true, f.device = "cuda";
    f.message = fmt::format("{} ≤ {} = {:.0f} % of {} VRAM ({})", need.arithmetic, format_size(b.usable_vram()),
                            kVramHeadroom * 100, format_size(b.vram_bytes), b.vram_source);
  } else if (total <= b.usable_ram()) {
    f.fits = true, f.device = "cpu";
    f.message = fmt::format("{} ≤ {} = {:.0f} % of {} RAM ({})", need.arithmetic, format_size(b.usable_ram()),
                            kRamHeadroom * 100, format_size(b.ram_bytes), b.ram_source);
  } else {
    f.message = fmt::format("{} > {} usable RAM ({:.0f} % of {}, {}){}", need.arithmetic, format_size(b.usable_ram()),
                            kRamHeadroom * 100, format_size(b.ram_bytes), b.ram_source,
                            b.vram_bytes ? fmt::format(" and > {} usable VRAM", format_size(b.usable_vram())) : "");
  }
  return f;
}

std::string category_for_task(const std::string& task) {
  if (task == "fast") return "small-fast";
  const auto& cats = Catalogue::categories();
  if (std::find(cats.begin(), cats.end(), task) != cats.end()) return task;
  fail("unknown task '{}': use code, general, small-fast (or fast), quality, reasoning or multilingual", task);
}

double quantization_quality(const std::string& q) {
  // Relative quality of a quantization of the same model, from the perplexity increases
  // reported for MLX/llama.cpp quants: 8-bit is near-lossless, 4-bit costs a few percent.
  if (q == "bf16" || q == "fp16" || q == "f16" || q == "f32" || q.empty()) return 1.0;
  if (q == "8bit") return 0.99;
  if (q == "6bit") return 0.97;
  if (q == "5bit") return 0.95;
  if (q == "4bit") return 0.92;
  if (q.starts_with("3bit")) return q.find("DWQ") != std::string::npos ? 0.88 : 0.84;
  if (q == "2bit") return 0.6;
  return 0.9;
}

double effective_parameters_b(const CatalogueEntry& e) {
  return e.mixture() ? std::sqrt(e.parameters_b * e.active_parameters_b) : e.parameters_b;
}

nlohmann::json Candidate::to_json() const {
  nlohmann::json j = {{"id", entry->id},
                      {"quantization", entry->quantization},
                      {"parameters_b", entry->parameters_b},
                      {"score", score},
                      {"fits", fit.fits},
                      {"device", fit.device},
                      {"memory", {{"weights_bytes", need.weights}, {"kv_cache_bytes", need.kv_cache},
                                  {"runtime_bytes", need.runtime}, {"total_bytes", need.total()}}},
                      {"arithmetic", fit.message}};
  if (tokens_per_s > 0) j["expected_tokens_per_s"] = tokens_per_s, j["bytes_per_token"] = bytes_per_token;
  if (entry->mixture()) j["active_parameters_b"] = entry->active_parameters_b;
  if (!reason.empty()) j["reason"] = reason;
  return j;
}

nlohmann::json Recommendation::to_json() const {
  nlohmann::json alts = nlohmann::json::array(), rej = nlohmann::json::array();
  for (const auto& a : alternatives) alts.push_back(a.to_json());
  for (const auto& r : rejected) rej.push_back(r.to_json());
  return {{"task", request.task}, {"context", request.context}, {"budget", budget.to_json()},
          {"choice", choice ? choice->to_json() : nlohmann::json(nullptr)}, {"alternatives", alts},
          {"rejected", rej}, {"explanation", explanation},
          {"other_category", other_category.empty() ? nlohmann::json(nullptr) : nlohmann::json(other_category)}};
}

Recommendation recommend(const Catalogue& catalogue, const RecommendRequest& request, const MemoryBudget& budget) {
  Recommendation rec;
  rec.request = request;
  rec.budget = budget;
  if (request.context <= 0) fail("--context must be positive (got {})", request.context);
  const std::string category = category_for_task(request.task);
  const auto consider = [&](const CatalogueEntry& e) {
    Candidate c;
    c.entry = &e;
    c.need = estimate_memory(e, request.context);
    c.fit = check_fit(c.need, budget);
    c.score = effective_parameters_b(e) * quantization_quality(e.quantization);
    if (!e.supported) c.reason = "architecture '" + e.architecture + "' is not supported by the engine yet";
    else if (!e.shape.known()) c.reason = "its shape is not in the catalogue, so its KV cache cannot be sized";
    else if (request.context > e.context_length)
      c.reason = fmt::format("context {} exceeds the model's {}", request.context, e.context_length);
    else if (!c.fit.fits) c.reason = "does not fit: " + c.fit.message;
    if (c.reason.empty()) {
      // A token reads the weights — a mixture of experts only its share of them (the
      // experts dominate its weights) — and the KV cache (bf16: half the float32 bound above).
      const double share = e.mixture() ? e.active_parameters_b / e.parameters_b : 1.0;
      c.bytes_per_token = uint64_t(double(c.need.weights) * share) + c.need.kv_cache / 2;
      const double bw = c.fit.device == "cuda" ? budget.vram_bandwidth : budget.ram_bandwidth;
      c.tokens_per_s = bw > 0 ? bw / double(c.bytes_per_token) : 0;
    }
    return c;
  };
  const auto in = [](const CatalogueEntry& e, const std::string& cat) {
    return std::find(e.categories.begin(), e.categories.end(), cat) != e.categories.end();
  };
  std::vector<Candidate> fitting;
  for (const auto& e : catalogue.entries()) {
    if (!in(e, category)) continue;
    Candidate c = consider(e);
    (c.reason.empty() ? fitting : rec.rejected).push_back(std::move(c));
  }
  const std::string nothing = fmt::format("Nothing in category '{}' fits {} usable RAM{} at context {}", category,
                                          format_size(budget.usable_ram()),
                                          budget.vram_bytes ? " / " + format_size(budget.usable_vram()) + " usable VRAM" : "",
                                          request.context);
  if (fitting.empty()) {
    // Then the best that fits from any category, marked as such.
    for (const auto& e : catalogue.entries())
      if (!in(e, category))
        if (Candidate c = consider(e); c.reason.empty()) fitting.push_back(std::move(c));
    if (!fitting.empty()) rec.other_category = "other";
  }
  const auto slow = [](const Candidate& c) { return c.tokens_per_s > 0 && c.tokens_per_s < kMinTokensPerSecond; };
  // Fast enough first; then best quality; among equals the smaller (faster) one.
  std::stable_sort(fitting.begin(), fitting.end(), [&](const Candidate& a, const Candidate& b) {
    if (slow(a) != slow(b)) return !slow(a);
    if (a.score != b.score) return a.score > b.score;
    return a.need.total() < b.need.total();
  });
  std::sort(rec.rejected.begin(), rec.rejected.end(),
            [](const Candidate& a, const Candidate& b) { return a.need.total() < b.need.total(); });
  if (fitting.empty()) {
    rec.explanation = nothing + ", nor does any other catalogue model. The smallest need is listed under rejected; "
                                "lower --context or free memory.";
    return rec;
  }
  rec.choice = fitting.front();
  rec.alternatives.assign(fitting.begin() + 1, fitting.end());
  const auto& c = *rec.choice;
  if (!rec.other_category.empty()) rec.other_category = c.entry->categories.front();
  const std::string speed =
      c.tokens_per_s > 0
          ? fmt::format(" Expected decode speed here: about {:.0f} tokens/s ({} read per token / {}/s, {}){}.", c.tokens_per_s,
                        format_size(c.bytes_per_token),
                        format_size(uint64_t(c.fit.device == "cuda" ? budget.vram_bandwidth : budget.ram_bandwidth)),
                        c.fit.device == "cuda" ? budget.vram_bandwidth_source : budget.ram_bandwidth_source,
                        slow(c) ? fmt::format(", below the {:.0f} tokens/s floor: nothing faster fits", kMinTokensPerSecond)
                                : "")
          : "";
  const std::string parameters =
      c.entry->mixture()
          ? fmt::format("{} B parameters of which {} B per token, a mixture of experts", c.entry->parameters_b,
                        c.entry->active_parameters_b)
          : fmt::format("{} B parameters", c.entry->parameters_b);
  const std::string score_basis =
      c.entry->mixture() ? fmt::format("√(total × active) = {:.1f} B", effective_parameters_b(*c.entry)) : "parameters";
  rec.explanation =
      rec.other_category.empty()
          ? fmt::format("{} ({}, {}) is the highest-quality '{}' model that fits on {} at context {}: {}. "
                        "Quality score {:.2f} = {} × {:.2f} for {}; larger or less-quantized models were rejected "
                        "for memory or context.{}",
                        c.entry->id, parameters, c.entry->quantization, category, c.fit.device, request.context,
                        c.fit.message, c.score, score_basis, quantization_quality(c.entry->quantization),
                        c.entry->quantization, speed)
          : fmt::format("{}. The best model that fits from another category is {} ('{}' category; {} B parameters, {}) on "
                        "{}: {}.{}",
                        nothing, c.entry->id, rec.other_category, c.entry->parameters_b, c.entry->quantization,
                        c.fit.device, c.fit.message, speed);
  return rec;
}

}  // namespace mlxcpp
