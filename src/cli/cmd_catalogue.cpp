#include <cstdio>
#include <optional>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "catalogue/catalogue.h"
#include "catalogue/hub_resolver.h"
#include "catalogue/listing.h"
#include "catalogue/recommend.h"
#include "hardware/hardware.h"
#include "catalogue/resolver.h"
#include "cli/validators.h"
#include "cli/commands.h"
#include "util/error.h"

namespace mlxcpp::cli {

void register_list(CLI::App& app) {
  struct Opts {
    std::string category;
    bool json = false, fits = false;
    int64_t context = kDefaultContext;
    std::optional<double> ram_gb, vram_gb;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("list", "The model catalogue, grouped by category");
  // One vocabulary with recommend: the catalogue's names, and "fast" for small-fast.
  std::vector<std::string> names = Catalogue::categories();
  names.push_back("fast");
  cmd->add_option("--category", o->category, "Only this category (small-fast: also \"fast\")")->check(CLI::IsMember(names));
  cmd->add_flag("--fits", o->fits, "Only models that fit this machine's memory (see `recommend` for the arithmetic)");
  cmd->add_option("--context", o->context, "Context length assumed by --fits")->capture_default_str();
  cmd->add_option("--ram-gb", o->ram_gb, "With --fits: a RAM budget in GB instead of this machine's")->check(CLI::NonNegativeNumber);
  cmd->add_option("--vram-gb", o->vram_gb, "With --fits: a GPU memory budget in GB")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", o->json, "JSON: {\"models\": {category: [{id, size, best_for, size_gb, ...}]}}");
  cmd->callback([o] {
    const Catalogue cat = Catalogue::load_default();
    ListingOptions listing{o->category.empty() ? "" : category_for_task(o->category), std::nullopt, o->context};
    if (o->fits) listing.fits = MemoryBudget::from(detect_hardware(), o->ram_gb, o->vram_gb);
    const nlohmann::ordered_json grouped = catalogue_listing(cat, listing);
    if (o->json) {
      std::printf("%s\n", nlohmann::ordered_json{{"models", grouped}, {"default_model", cat.default_model()}}.dump(2).c_str());
      return;
    }
    for (const auto& [c, list] : grouped.items()) {
      std::printf("%s:\n", c.c_str());
      for (const auto& m : list)
        std::printf("  %-50s %6.1f GB  %-6s %7s ctx  %s%s\n", m["id"].get<std::string>().c_str(), m["size_gb"].get<double>(),
                    m["quantization"].get<std::string>().c_str(), std::to_string(m["context_length"].get<int64_t>()).c_str(),
                    m["best_for"].get<std::string>().c_str(), m["id"] == cat.default_model() ? "  (default)" : "");
    }
  });
}

void register_resolve(CLI::App& app) {
  struct Opts {
    std::string name;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("resolve", "Check a model name; suggest the right id (exit 0 found, 3 suggestions only, 4 nothing)");
  cmd->add_option("name", o->name, "A repo id or a short name such as 'phi-3.5' or 'llama 3.1 8b 4bit'")->required();
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o] {
    const Resolution r = resolve_model_online(Catalogue::load_default(), o->name, HubSettings::from_environment());
    if (o->json) {
      std::printf("%s\n", r.to_json().dump(2).c_str());
    } else {
      std::printf("%s\n", r.message.c_str());
      for (const auto& s : r.suggestions) std::printf("  %-50s (%s)\n", s.id.c_str(), s.why.c_str());
    }
    std::fflush(stdout);
    if (r.exit_code() != 0) std::exit(r.exit_code());
  });
}

void register_recommend(CLI::App& app) {
  struct Opts {
    std::string task = "general";
    int64_t context = kDefaultContext;
    std::optional<double> ram_gb, vram_gb, bandwidth_gbs;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("recommend", "The best catalogue model and quantization that fit this machine (or a budget)");
  cmd->add_option("--task", o->task, "code, general, small-fast (or fast), quality, reasoning, multilingual")
      ->check(CLI::IsMember({"code", "general", "small-fast", "fast", "quality", "reasoning", "multilingual"}))
      ->capture_default_str();
  cmd->add_option("--context", o->context, "Context length the model must hold (sizes the KV cache)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--ram-gb", o->ram_gb, "RAM budget in GB (default: this machine's available RAM)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--vram-gb", o->vram_gb, "GPU memory budget in GB (default: free VRAM when the CUDA engine is available)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--bandwidth-gbs", o->bandwidth_gbs,
                  "RAM read bandwidth in GB/s for the speed estimate (default: measured on this machine)")
      ->check(at_least(0));
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o] {
    MemoryBudget budget = o->bandwidth_gbs ? MemoryBudget::from(detect_hardware(), o->ram_gb, o->vram_gb)
                                           : MemoryBudget::measured(detect_hardware(), o->ram_gb, o->vram_gb);
    if (o->bandwidth_gbs) budget.ram_bandwidth = *o->bandwidth_gbs * 1e9, budget.ram_bandwidth_source = "--bandwidth-gbs";
    const Catalogue catalogue = Catalogue::load_default();  // outlives rec, which points into it
    const Recommendation rec = recommend(catalogue, {o->task, o->context}, budget);
    if (o->json) {
      std::printf("%s\n", rec.to_json().dump(2).c_str());
    } else if (rec.choice) {
      std::printf("%s\n\n%s\n", rec.choice->entry->id.c_str(), rec.explanation.c_str());
      if (!rec.alternatives.empty()) std::printf("\nAlso fits:\n");
      for (const auto& a : rec.alternatives)
        std::printf("  %-50s %-5s %6.2f GB needed (score %.2f)%s\n", a.entry->id.c_str(), a.fit.device.c_str(),
                    double(a.need.total()) / 1e9, a.score,
                    a.tokens_per_s > 0 ? fmt::format(", ~{:.0f} tokens/s", a.tokens_per_s).c_str() : "");
      if (!rec.rejected.empty()) std::printf("\nDoes not fit or qualify:\n");
      for (const auto& r : rec.rejected)
        std::printf("  %-50s %6.2f GB needed: %s\n", r.entry->id.c_str(), double(r.need.total()) / 1e9,
                    r.reason.substr(0, r.reason.find(':')).c_str());
    } else {
      std::printf("%s\n", rec.explanation.c_str());
      for (const auto& r : rec.rejected)
        std::printf("  %-50s %6.2f GB needed\n", r.entry->id.c_str(), double(r.need.total()) / 1e9);
    }
    std::fflush(stdout);
    if (!rec.choice) std::exit(4);
  });
}

}  // namespace mlxcpp::cli
