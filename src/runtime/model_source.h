// Where a model comes from, for every command and server that takes a MODEL: a local
// directory, the Hugging Face cache, or — after the name passes the resolver and the model
// is checked to fit memory and disk — a download from the Hub. A wrong id fails before any
// download, carrying the resolver's suggestions.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "catalogue/recommend.h"
#include "catalogue/resolver.h"
#include "hub/snapshot_download.h"
#include "util/error.h"

namespace mlxcpp {

// A model name that names nothing; what() lists the suggestions.
class ModelNotFound : public Error {
 public:
  ModelNotFound(const std::string& message, Resolution resolution) : Error(message), resolution_(std::move(resolution)) {}
  const Resolution& resolution() const { return resolution_; }

 private:
  Resolution resolution_;
};

struct ModelRequest {
  std::string spec;             // directory, repo id[@rev], or "" for the default
  bool allow_download = true;   // false: the cache only
  bool force = false;           // download even when the fit check fails
  int64_t context = kDefaultContext;
  std::function<void(const PullEvent&)> on_progress;
  std::function<void(const std::string&)> on_note;  // one-line notes ("using the bundled model …")
};

struct ModelLocation {
  std::filesystem::path dir;
  std::string repo_id;  // empty for a plain directory
  std::string source;   // "directory", "cache", "download", "bundled"
};

ModelLocation find_or_pull_model(const ModelRequest& request);

// The files mlx-lm downloads for a model (its DEFAULT_ALLOW_PATTERNS less "*.py": nothing
// here runs repository code).
const std::vector<std::string>& model_file_patterns();

// The model shipped in the repository ($MLXCPP_BUNDLED_MODEL overrides).
std::filesystem::path bundled_model_dir();

// Memory and disk check before a download: the weights of the plan plus the KV cache (when
// the catalogue knows the model's shape) against this machine, and the missing bytes
// against the free disk where the cache lives. FitCheck::message carries the numbers.
FitCheck check_download_fits(const PullPlan& plan, int64_t context);

// The suggestions of a failed resolution as "did you mean" text.
std::string suggestions_text(const Resolution& r);

}  // namespace mlxcpp
