#include "catalogue/catalogue.h"

#include <cstdlib>

#include "util/error.h"
#include "util/files.h"

namespace mlxcpp {

extern const char* const kBuiltinCatalogueJson;

namespace {

CatalogueEntry parse_entry(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) fail("{}: entry without a string 'id'", where);
  CatalogueEntry e;
  e.id = j["id"];
  const std::string w = where + ": '" + e.id + "'";
  try {
    e.family = j.value("family", std::string());
    e.architecture = j.value("architecture", std::string());
    e.categories = j.value("categories", std::vector<std::string>{});
    e.parameters_b = j.value("parameters_b", 0.0);
    e.active_parameters_b = j.value("active_parameters_b", 0.0);
    e.quantization = j.value("quantization", std::string());
    e.size_gb = j.value("size_gb", 0.0);
    e.context_length = j.value("context_length", int64_t(0));
    e.license = j.value("license", std::string());
    e.best_for = j.value("best_for", std::string());
    e.evidence = j.value("evidence", std::string());
    e.chat_template = j.value("chat_template", true);
    e.supported = j.value("supported", true);
    e.variants = j.value("variants", std::vector<std::string>{});
    if (j.contains("shape")) {
      const auto& sh = j.at("shape");
      e.shape = {sh.at("layers").get<int64_t>(), sh.at("kv_heads").get<int64_t>(), sh.at("head_dim").get<int64_t>(),
                 sh.value("hidden", int64_t(0)), sh.value("vocab", int64_t(0))};
      if (!e.shape.known()) fail("{}: shape needs positive layers, kv_heads and head_dim", w);
    }
  } catch (const nlohmann::json::exception& ex) {
    fail("{}: {}", w, json_error_text(ex));
  }
  for (const auto& c : e.categories)
    if (std::find(Catalogue::categories().begin(), Catalogue::categories().end(), c) == Catalogue::categories().end())
      fail("{}: unknown category '{}'", w, c);
  if (e.id.find('/') == std::string::npos) fail("{}: id must be 'org/name'", w);
  if (e.active_parameters_b < 0 || e.active_parameters_b > e.parameters_b)
    fail("{}: active_parameters_b {} must be between 0 and parameters_b {}", w, e.active_parameters_b, e.parameters_b);
  return e;
}

}  // namespace

nlohmann::json CatalogueEntry::to_json() const {
  return {{"id", id},           {"family", family},     {"architecture", architecture},
          {"categories", categories}, {"parameters_b", parameters_b}, {"quantization", quantization},
          {"size_gb", size_gb}, {"context_length", context_length}, {"license", license},
          {"chat_template", chat_template}, {"supported", supported}, {"best_for", best_for},
          {"evidence", evidence}, {"variants", variants}, {"active_parameters_b", active_parameters_b},
          {"shape", {{"layers", shape.layers}, {"kv_heads", shape.kv_heads}, {"head_dim", shape.head_dim},
                     {"hidden", shape.hidden}, {"vocab", shape.vocab}}}};
}

const std::vector<std::string>& Catalogue::categories() {
  static const std::vector<std::string> c = {"code", "general", "small-fast", "quality", "reasoning", "multilingual"};
  return c;
}

void Catalogue::merge_json(const nlohmann::json& j, const std::string& label) {
  if (!j.is_object() || !j.contains("models") || !j["models"].is_array()) fail("{}: expected {{\"models\": [...]}}", label);
  if (j.contains("default_model") && j["default_model"].is_string()) default_model_ = j["default_model"];
  for (const auto& m : j["models"]) {
    CatalogueEntry e = parse_entry(m, label);
    auto it = std::find_if(entries_.begin(), entries_.end(), [&](const CatalogueEntry& x) { return x.id == e.id; });
    if (it != entries_.end()) *it = std::move(e);
    else entries_.push_back(std::move(e));
  }
}

Catalogue Catalogue::builtin() {
  Catalogue c;
  c.merge_json(nlohmann::json::parse(kBuiltinCatalogueJson), "built-in catalogue");
  return c;
}

void Catalogue::merge_file(const std::filesystem::path& path) { merge_json(read_json_file(path), path.string()); }

Catalogue Catalogue::load_default() {
  Catalogue c = builtin();
  std::filesystem::path user;
  if (const char* p = std::getenv("MLXCPP_CATALOGUE")) user = p;
  else if (const char* home = std::getenv("HOME")) user = std::filesystem::path(home) / ".config" / "mlxcpp" / "catalogue.json";
  if (!user.empty() && std::filesystem::exists(user)) c.merge_file(user);
  return c;
}

const CatalogueEntry* Catalogue::find(const std::string& id) const {
  for (const auto& e : entries_)
    if (e.id == id) return &e;
  return nullptr;
}

}  // namespace mlxcpp
