#include "server/model_registry.h"

#include <fmt/format.h>

#include <chrono>

#include "catalogue/hub_resolver.h"
#include "hub/hf_cache.h"
#include "runtime/model_source.h"
#include "server/openai_protocol.h"

namespace mlxcpp {
namespace fs = std::filesystem;

std::string model_id_for_dir(const fs::path& dir) {
  // <cache>/models--org--name/snapshots/<commit>
  const fs::path snap = fs::weakly_canonical(dir);
  const std::string repo = snap.parent_path().parent_path().filename().string();
  if (snap.parent_path().filename() == "snapshots" && repo.starts_with("models--")) {
    std::string id = repo.substr(8);
    const auto sep = id.find("--");
    if (sep != std::string::npos) return id.substr(0, sep) + "/" + id.substr(sep + 2);
  }
  return snap.filename().string();
}

ModelRegistry::ModelRegistry(std::string default_id, const fs::path& default_dir, RegistryOptions options)
    : default_id_(std::move(default_id)), options_(std::move(options)) {
  default_host_ = std::make_shared<ModelHost>(default_id_, default_dir, options_.host);
}

std::optional<fs::path> allowed_model_dir(const std::string& requested, const std::vector<fs::path>& roots) {
  const fs::path p(requested);
  for (const fs::path& root : roots) {
    std::error_code ec;
    const fs::path r = fs::canonical(root, ec);
    if (ec) continue;
    const fs::path candidate = fs::canonical(p.is_absolute() ? p : r / p, ec);
    if (ec || !fs::is_directory(candidate, ec)) continue;
    if (std::mismatch(r.begin(), r.end(), candidate.begin(), candidate.end()).first == r.end()) return candidate;
  }
  return std::nullopt;
}

std::shared_ptr<ModelHost> ModelRegistry::get(const std::string& requested) {
  if (requested.empty() || requested == default_id_ || requested == default_host_->dir().string()) return default_host_;
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < loaded_.size(); ++i)
    if (loaded_[i]->name() == requested) {
      auto host = loaded_[i];
      loaded_.erase(loaded_.begin() + std::ptrdiff_t(i));
      loaded_.insert(loaded_.begin(), host);
      return host;
    }
  // A name from the network is a catalogue or cached id (or a name the resolver turns into
  // one), never a path outside the --allow-paths directories; a directory that is not
  // allowed gets the answer of a missing id, so that the answer says nothing of what
  // exists here.
  if (requested.size() > 256) throw ApiError(400, "invalid_request_error", "model", "the model name is longer than 256 characters");
  const auto missing = [&](const std::string& why) {
    const Resolution r = resolve_model_online(Catalogue::load_default(), requested, HubSettings::from_environment());
    return ApiError(404, "model_not_found", "model",
                    fmt::format("model '{}' is not available on this server{}{}{}", requested, why,
                                r.status == Resolution::Found ? "; it exists: run `mlxcpp pull " + r.id + "` first" : "",
                                suggestions_text(r)));
  };
  fs::path dir;
  if (auto allowed = allowed_model_dir(requested, options_.allowed_dirs)) {
    dir = *allowed;
  } else {
    std::string id = requested;
    if (!looks_like_repo_id(requested)) {
      const Resolution r =
          resolve_model_name(Catalogue::load_default(), requested, 5, cached_model_ids(HubSettings::from_environment().cache_dir));
      if (r.status != Resolution::Found) throw missing("");
      id = r.id;
    }
    try {
      dir = locate_cached_model(id);
    } catch (const Error&) {
      throw missing(id == requested ? " (it is not in this server's model cache)"
                                    : fmt::format(" ({}, which is not in this server's model cache)", id));
    }
  }
  auto host = std::make_shared<ModelHost>(requested, dir, options_.host);
  loaded_.insert(loaded_.begin(), host);
  while (loaded_.size() > options_.max_loaded) loaded_.pop_back();  // in-flight requests keep theirs alive
  return host;
}

nlohmann::json ModelRegistry::list() const {
  const auto created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  nlohmann::json data = nlohmann::json::array();
  // (context_length: the loaded models' own, for clients that show how much is used.)
  data.push_back({{"id", default_id_}, {"object", "model"}, {"created", created}, {"owned_by", "mlxcpp"},
                  {"context_length", default_host_->config().context_length()}});
  for (const auto& id : cached_model_ids(hub_cache_dir())) {
    if (id == default_id_) continue;
    try {
      if (!fs::exists(locate_model(id) / "config.json")) continue;
    } catch (const Error&) {
      continue;
    }
    data.push_back({{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", id.substr(0, id.find('/'))}});
  }
  return {{"object", "list"}, {"data", data}};
}

HostStats ModelRegistry::stats() const {
  std::lock_guard lock(mu_);
  HostStats sum = default_host_->stats();
  for (const auto& h : loaded_) {
    const HostStats s = h->stats();
    sum.running += s.running, sum.waiting += s.waiting, sum.steps += s.steps, sum.step_sequences += s.step_sequences;
    sum.step_tokens += s.step_tokens, sum.preemptions += s.preemptions, sum.prompt_tokens += s.prompt_tokens;
    sum.reused_prompt_tokens += s.reused_prompt_tokens, sum.kv_blocks_used += s.kv_blocks_used;
    sum.kv_blocks_free += s.kv_blocks_free;
  }
  return sum;
}

}  // namespace mlxcpp
