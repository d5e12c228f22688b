#include <cstdio>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "catalogue/catalogue.h"
#include "catalogue/resolver.h"
#include "cli/commands.h"
#include "util/error.h"

namespace mlxcpp::cli {

void register_list(CLI::App& app) {
  struct Opts {
    std::string category;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("list", "The model catalogue, grouped by category");
  cmd->add_option("--category", o->category, "Only this category")->check(CLI::IsMember(Catalogue::categories()));
  cmd->add_flag("--json", o->json, "JSON: {\"models\": {category: [{id, size, best_for, size_gb, ...}]}}");
  cmd->callback([o] {
    const Catalogue cat = Catalogue::load_default();
    nlohmann::ordered_json grouped = nlohmann::ordered_json::object();
    for (const auto& c : Catalogue::categories()) {
      if (!o->category.empty() && c != o->category) continue;
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (const auto& e : cat.entries()) {
        if (std::find(e.categories.begin(), e.categories.end(), c) == e.categories.end()) continue;
        // The original tool's shape (id, size, best_for, size_gb) plus the catalogue's facts.
        nlohmann::ordered_json m = {{"id", e.id},
                                    {"size", fmt::format("{:.1f}GB", e.size_gb)},
                                    {"best_for", e.best_for},
                                    {"size_gb", e.size_gb}};
        const nlohmann::json facts = e.to_json();
        for (const auto& [k, v] : facts.items())
          if (!m.contains(k)) m[k] = v;
        list.push_back(m);
      }
      if (!list.empty()) grouped[c] = list;
    }
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
    const Resolution r = resolve_model_name(Catalogue::load_default(), o->name);
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

}  // namespace mlxcpp::cli
