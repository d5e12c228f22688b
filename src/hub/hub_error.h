// Hub failures told apart (hf-hub.md §1.4): missing repo, gated repo, bad token, no access,
// disabled repo, unknown revision, missing file, rate limit, server and network errors, and
// offline mode, each with what the user can do about it.
#pragma once

#include <string>

#include "hub/http_client.h"
#include "util/error.h"

namespace mlxcpp {

class HubError : public Error {
 public:
  enum class Kind { RepoNotFound, Gated, BadToken, NoAccess, Disabled, RevisionNotFound, EntryNotFound,
                    RateLimited, Server, Network, Offline, Integrity, Other };
  HubError(Kind kind, const std::string& message) : Error(message), kind_(kind) {}
  Kind kind() const { return kind_; }
  // Whether a cached copy may stand in (the network or the server failed, not the request).
  bool transient() const { return kind_ == Kind::Network || kind_ == Kind::Server || kind_ == Kind::RateLimited; }

 private:
  Kind kind_;
};

// The error for a response that is not a success. `subject` is e.g. "mlx-community/x" or
// "mlx-community/x/config.json"; `settings` supply the endpoint and whether a token was sent.
HubError hub_error_for(const HttpResponse& response, const std::string& subject, const std::string& repo_id,
                       const HubSettings& settings);

}  // namespace mlxcpp
