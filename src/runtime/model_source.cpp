#include "runtime/model_source.h"

#include <fmt/format.h>

#include <cctype>

#include "catalogue/hub_resolver.h"
#include "hardware/hardware.h"
#include "hub/hf_cache.h"
#include "hub/hub_error.h"
#include "util/install_paths.h"

namespace mlxcpp {
namespace fs = std::filesystem;

namespace {

void note(const ModelRequest& r, const std::string& text) {
  if (r.on_note) r.on_note(text);
}

[[noreturn]] void not_found(const std::string& spec, const std::string& why) {
  const Resolution r = resolve_model_online(Catalogue::load_default(), spec, HubSettings::from_environment());
  throw ModelNotFound(fmt::format("{}{}", why, suggestions_text(r)), r);
}

}  // namespace

const std::vector<std::string>& model_file_patterns() {
  static const std::vector<std::string> patterns = {"*.json", "model*.safetensors", "tokenizer.model", "*.tiktoken",
                                                    "tiktoken.model", "*.txt", "*.jsonl", "*.jinja"};
  return patterns;
}

fs::path bundled_model_dir() {
  if (const char* env = std::getenv("MLXCPP_BUNDLED_MODEL")) return env;
  // An installed copy's own data (wherever it was installed), else a build next to its
  // source tree, else the configured install prefix.
  const fs::path name = fs::path("models") / "fortune-tiny-mlx-4bit-g64";
  if (const fs::path installed = installed_data_dir(); !installed.empty() && fs::is_directory(installed / name))
    return installed / name;
  const fs::path in_tree = fs::path(MLXCPP_SOURCE_DIR) / name;
  if (fs::is_directory(in_tree)) return in_tree;
  return fs::path(MLXCPP_INSTALL_DATADIR) / name;
}

std::string suggestions_text(const Resolution& r) {
  if (r.suggestions.empty()) return "";
  std::string s = "; did you mean:";
  for (const auto& sug : r.suggestions) s += "\n  " + sug.id + "  (" + sug.why + ")";
  return s;
}

FitCheck check_download_fits(const PullPlan& plan, int64_t context) {
  const Catalogue catalogue = Catalogue::load_default();
  const CatalogueEntry* entry = catalogue.find(plan.repo_id);
  const HardwareInfo hw = detect_hardware();
  const MemoryNeed need = estimate_memory(plan.weight_bytes, entry ? entry->shape : ModelShape{}, context);
  FitCheck fit = check_fit(need, MemoryBudget::from(hw, std::nullopt, std::nullopt));
  // Disk: the missing bytes plus 1 % slack must fit where the cache lives.
  const uint64_t disk_need = plan.bytes_missing + plan.bytes_missing / 100;
  if (hw.cache_free_bytes > 0 && disk_need > hw.cache_free_bytes) {
    fit.fits = false;
    fit.message = fmt::format("download needs {} but {} has {} free; {}", format_size(disk_need), hw.cache_dir,
                              format_size(hw.cache_free_bytes), fit.message);
  } else {
    fit.message = fmt::format("disk: {} to download, {} free at {}; memory at context {}: {}", format_size(plan.bytes_missing),
                              format_size(hw.cache_free_bytes), hw.cache_dir, context, fit.message);
  }
  return fit;
}

ModelLocation find_or_pull_model(const ModelRequest& request) {
  const std::string& spec = request.spec;
  if (spec.empty()) {
    const std::string def = Catalogue::load_default().default_model();
    try {
      ModelLocation loc{locate_model(def), def, "cache"};
      note(request, "using " + def + " from the Hugging Face cache");
      return loc;
    } catch (const Error&) {
      note(request, def + " is not cached; using the bundled model " + bundled_model_dir().string());
      return {bundled_model_dir(), "", "bundled"};
    }
  }
  // Any existing path is a path.
  if (fs::exists(spec)) {
    if (fs::is_directory(spec)) return {fs::path(spec), "", "directory"};
    std::string ext = fs::path(spec).extension().string();
    for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (ext == ".gguf")
      fail("{}: GGUF is llama.cpp's format; mlxcpp runs MLX-format models — convert the original checkpoint with "
           "`mlxcpp convert`",
           spec);
    fail("{}: is a file; a model is a directory (or a repo id 'org/name')", spec);
  }
  const HubSettings settings = HubSettings::from_environment();
  const Catalogue catalogue = Catalogue::load_default();
  std::string id_spec = spec;
  if (!looks_like_repo_id(spec)) {
    // A bare name that is exactly one cached or catalogue id under mlx-community (any
    // case), or an Ollama-style name ("llama3.2:1b"), is that id.
    const Resolution r = resolve_model_name(catalogue, spec, 5, cached_model_ids(settings.cache_dir));
    if (r.status != Resolution::Found)
      not_found(spec, fmt::format("{}: no such model directory, and not a repo id of the form 'org/name[@revision]'", spec));
    note(request, r.message);
    id_spec = r.id;
  }
  const RepoRef ref = parse_repo_ref(id_spec);
  if (find_snapshot(settings.cache_dir, ref)) {
    try {
      return {locate_model(id_spec), ref.repo_id, "cache"};
    } catch (const Error& e) {
      if (!request.allow_download) throw;
      note(request, std::string(e.what()) + "; finishing the download");
    }
  }
  if (!request.allow_download)
    not_found(id_spec, fmt::format("model '{}' is not in the Hugging Face cache at {}", id_spec, settings.cache_dir.string()));
  // Neither cached nor in the catalogue: the resolver first, with one quick Hub attempt,
  // so that a mistyped id fails at once with suggestions instead of after the download's
  // retry ladder.
  if (!catalogue.find(ref.repo_id) && !settings.offline) {
    const Resolution r = resolve_model_online(catalogue, id_spec, settings);
    if (r.status != Resolution::Found)
      throw ModelNotFound(fmt::format("cannot get model '{}': {}{}", id_spec, r.hub.empty() ? "not in the catalogue" : r.hub,
                                      suggestions_text(r)),
                          r);
  }
  PullOptions options;
  options.repo_id = ref.repo_id;
  options.revision = ref.revision;
  options.include = model_file_patterns();
  PullPlan plan;
  try {
    plan = plan_pull(settings, options);
  } catch (const HubError& e) {
    if (e.kind() == HubError::Kind::RepoNotFound) not_found(id_spec, e.what());
    throw;
  }
  if (!plan.from_cache_only) {
    const FitCheck fit = check_download_fits(plan, request.context);
    if (!fit.fits && !request.force)
      fail("{} would not fit this machine, so it was not downloaded: {}. Pass --force to download anyway, or "
           "see `mlxcpp recommend`", id_spec, fit.message);
    note(request, fmt::format("downloading {} ({} in {} files): {}", id_spec, format_size(plan.bytes_missing),
                              plan.missing.size(), fit.message));
  }
  const PullResult result = execute_pull(settings, plan, request.on_progress);
  return {locate_model(ref.repo_id + "@" + plan.commit), ref.repo_id, plan.from_cache_only ? "cache" : "download"};
}

}  // namespace mlxcpp
