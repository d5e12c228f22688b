// `search` and `pull`: the Hub client (hub/) behind the resolver and the fit check.
#include <algorithm>
#include <cstdio>
#include <fmt/format.h>

#include "catalogue/catalogue.h"
#include "catalogue/hub_resolver.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "hub/hf_cache.h"
#include "hub/hub_error.h"
#include "hub/search_cache.h"
#include "runtime/model_source.h"

namespace mlxcpp::cli {

void register_search(CLI::App& app) {
  struct Opts {
    std::string query, author = "mlx-community", sort = "downloads";
    int limit = 20;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("search", "Search the Hub's models (cached on disk; works offline from the cache)");
  cmd->add_option("query", o->query, "Substring of the repo id, e.g. 'qwen3'");
  cmd->add_option("--author", o->author, "Namespace ('' for all)")->capture_default_str();
  cmd->add_option("--sort", o->sort, "downloads, likes, lastModified, createdAt, trendingScore")
      ->check(CLI::IsMember({"downloads", "likes", "lastModified", "createdAt", "trendingScore"}))
      ->capture_default_str();
  cmd->add_option("--limit", o->limit, "Most results")->check(CLI::Range(1, 10000))->capture_default_str();
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o] {
    // A search answers from its cache or the local ids when the Hub is away: one quick
    // attempt, not the download's retry ladder.
    HubSettings settings = HubSettings::from_environment();
    settings.max_retries = 0;
    settings.metadata_timeout_s = std::min(settings.metadata_timeout_s, 5.0);
    SearchQuery q;
    q.search = o->query, q.author = o->author, q.sort = o->sort, q.limit = o->limit;
    std::vector<std::string> local = cached_model_ids(settings.cache_dir);
    const Catalogue catalogue = Catalogue::load_default();
    for (const auto& e : catalogue.entries()) local.push_back(e.id);
    const SearchOutcome out = search_models_cached(settings, q, local);
    if (o->json) {
      std::printf("%s\n", out.to_json().dump(2).c_str());
      return;
    }
    if (!out.note.empty()) std::fprintf(stderr, "mlxcpp: %s\n", out.note.c_str());
    if (out.source == "cache") std::fprintf(stderr, "mlxcpp: cached answer, %.0f s old\n", out.age_s);
    for (const auto& m : out.models) {
      if (out.source == "local") std::printf("%-60s  (downloads unknown offline)\n", m.id.c_str());
      else std::printf("%-60s %10lld downloads  %s\n", m.id.c_str(), static_cast<long long>(m.downloads), m.last_modified.substr(0, 10).c_str());
    }
    if (out.models.empty()) std::fprintf(stderr, "mlxcpp: no model matches '%s'\n", o->query.c_str());
  });
}

void register_pull(CLI::App& app) {
  struct Opts {
    std::string id;
    std::vector<std::string> include, exclude;
    bool all = false, force = false, json = false, dry_run = false;
    int64_t context = kDefaultContext;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("pull", "Download a model into the Hugging Face cache (resumable, verified)");
  cmd->add_option("id", o->id, "org/name[@revision]")->required();
  cmd->add_option("--include", o->include, "Only files matching these globs (default: the files mlx-lm loads)");
  cmd->add_option("--exclude", o->exclude, "Skip files matching these globs");
  cmd->add_flag("--all", o->all, "Every file of the repository");
  cmd->add_flag("--force", o->force, "Download even if the model would not fit memory or disk");
  cmd->add_option("--context", o->context, "Context length for the memory check")->capture_default_str();
  cmd->add_flag("--dry-run", o->dry_run, "Show what would be downloaded and the fit check, then stop");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o] {
    const HubSettings settings = HubSettings::from_environment();
    if (!looks_like_repo_id(o->id)) {
      // A bare or Ollama-style name that names one model is that model.
      const Resolution r = resolve_model_online(Catalogue::load_default(), o->id, settings);
      if (r.status != Resolution::Found) fail("'{}' is not a repo id{}", o->id, suggestions_text(r));
      std::fprintf(stderr, "mlxcpp: %s\n", r.message.c_str());
      o->id = r.id;
    }
    const RepoRef ref = parse_repo_ref(o->id);
    // Neither cached nor in the catalogue: the resolver first (one quick Hub attempt), so a
    // mistyped id with the Hub away fails at once with suggestions, not after the retries.
    if (!settings.offline && !find_snapshot(settings.cache_dir, ref) && !Catalogue::load_default().find(ref.repo_id)) {
      const Resolution r = resolve_model_online(Catalogue::load_default(), o->id, settings);
      if (r.status != Resolution::Found)
        fail("cannot get model '{}': {}{}", o->id, r.hub.empty() ? "not in the catalogue" : r.hub, suggestions_text(r));
    }
    PullOptions opts;
    opts.repo_id = ref.repo_id, opts.revision = ref.revision, opts.exclude = o->exclude;
    opts.include = !o->include.empty() ? o->include
                   : o->all           ? std::vector<std::string>{}
                                      : model_file_patterns();
    PullPlan plan;
    try {
      plan = plan_pull(settings, opts);
    } catch (const HubError& e) {
      if (e.kind() != HubError::Kind::RepoNotFound) throw;
      fail("{}{}", e.what(), suggestions_text(resolve_model_name(Catalogue::load_default(), ref.repo_id)));
    }
    FitCheck fit{true, "", "already cached"};
    if (!plan.from_cache_only && !plan.missing.empty()) fit = check_download_fits(plan, o->context);
    if (!plan.note.empty()) std::fprintf(stderr, "mlxcpp: %s\n", plan.note.c_str());
    if (o->dry_run) {
      auto j = plan.to_json();
      j["fits"] = fit.fits, j["fit"] = fit.message;
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    if (!fit.fits && !o->force)
      fail("{} would not fit this machine, so nothing was downloaded: {}. Pass --force to download anyway", o->id, fit.message);
    if (!o->json && !plan.missing.empty())
      std::fprintf(stderr, "mlxcpp: %s@%s → %s: %zu files, %.1f MB to download (%s)\n", plan.repo_id.c_str(),
                   plan.revision.c_str(), plan.commit.c_str(), plan.missing.size(), double(plan.bytes_missing) / 1e6,
                   fit.message.c_str());
    const PullResult r = execute_pull(settings, plan, o->json ? std::function<void(const PullEvent&)>{} : pull_progress_printer());
    if (o->json) std::printf("%s\n", r.to_json().dump(2).c_str());
    else std::printf("%s\n", r.snapshot.c_str());
  });
}

}  // namespace mlxcpp::cli
