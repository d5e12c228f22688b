// The model catalogue: verified mlx-community ids with their facts (family, architecture,
// categories, parameters, quantization, size, context, licence, evidence). Built into the
// binary from data/catalogue.json and extendable by a user file ($MLXCPP_CATALOGUE or
// ~/.config/mlxcpp/catalogue.json) whose entries add to or replace the built-in ones.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace mlxcpp {

// The base model's dimensions that memory arithmetic needs (from its config.json).
struct ModelShape {
  int64_t layers = 0, kv_heads = 0, head_dim = 0, hidden = 0, vocab = 0;
  bool known() const { return layers > 0 && kv_heads > 0 && head_dim > 0; }
};

struct CatalogueEntry {
  std::string id;
  std::string family, architecture;
  std::vector<std::string> categories;
  double parameters_b = 0;
  // A mixture of experts: the parameters one token uses (0: a dense model, all of them).
  double active_parameters_b = 0;
  bool mixture() const { return active_parameters_b > 0 && active_parameters_b < parameters_b; }
  std::string quantization;  // "4bit", "8bit", "bf16", ...
  double size_gb = 0;
  int64_t context_length = 0;
  std::string license, best_for, evidence;
  bool chat_template = true;
  bool supported = true;  // the engine runs this architecture
  std::vector<std::string> variants;
  ModelShape shape;

  nlohmann::json to_json() const;
};

class Catalogue {
 public:
  static Catalogue builtin();
  // The built-in catalogue plus the user's file when present.
  static Catalogue load_default();
  // Adds or replaces entries from a catalogue JSON file; errors name the file and entry.
  void merge_file(const std::filesystem::path& path);

  const std::vector<CatalogueEntry>& entries() const { return entries_; }
  const CatalogueEntry* find(const std::string& id) const;  // exact id
  const std::string& default_model() const { return default_model_; }
  static const std::vector<std::string>& categories();  // code, general, small-fast, quality, reasoning, multilingual

 private:
  void merge_json(const nlohmann::json& j, const std::string& label);
  std::vector<CatalogueEntry> entries_;
  std::string default_model_;
};

}  // namespace mlxcpp
