#include "hub/hub_error.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace mlxcpp {

namespace {

// The server's message: X-Error-Message, else the JSON body's "error" (string or list).
std::string server_message(const HttpResponse& r) {
  if (auto m = r.header("x-error-message"); !m.empty()) return m;
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    if (e.is_string()) return e.get<std::string>();
    if (e.is_array() && !e.empty() && e[0].is_string()) return e[0].get<std::string>();
  }
  return "";
}

}  // namespace

HubError hub_error_for(const HttpResponse& r, const std::string& subject, const std::string& repo_id,
                       const HubSettings& s) {
  using K = HubError::Kind;
  if (!r.transport_error.empty())
    return HubError(K::Network, fmt::format("{}: cannot reach {} ({}). Check the network or proxy settings, "
                                            "or set HF_HUB_OFFLINE=1 to use the local cache",
                                            subject, s.endpoint, r.transport_error));
  const std::string code = r.header("x-error-code");
  const std::string msg = server_message(r);
  const std::string said = msg.empty() ? "" : fmt::format(" (server: \"{}\")", msg);
  const std::string page = s.endpoint + "/" + repo_id;
  const bool has_token = !s.token.empty();
  if (code == "GatedRepo")
    return HubError(K::Gated, has_token
        ? fmt::format("{}: gated repository and the token from {} is not approved for it (HTTP {}). Request access "
                      "at {} and wait for approval", subject, s.token_source, r.status, page)
        : fmt::format("{}: gated repository (HTTP {}). Accept its licence at {}, then set HF_TOKEN (or run "
                      "`hf auth login`) and try again", subject, r.status, page));
  if (code == "RevisionNotFound")
    return HubError(K::RevisionNotFound, fmt::format("{}: revision not found (HTTP {}){}. Use a branch, tag or "
                                                     "full 40-hex commit of {}", subject, r.status, said, page));
  if (code == "EntryNotFound")
    return HubError(K::EntryNotFound, fmt::format("{}: no such file at this revision (HTTP {})", subject, r.status));
  if (r.status == 401 && msg.find("Invalid credentials") != std::string::npos)
    return HubError(K::BadToken, fmt::format("{}: the Hub rejected the token from {} (HTTP 401 invalid "
                                             "credentials). Create a new token and set HF_TOKEN", subject, s.token_source));
  if (code == "RepoNotFound" || r.status == 404 || r.status == 401)
    return HubError(K::RepoNotFound,
                    fmt::format("{}: repository not found (HTTP {}){}. It does not exist, or it is private{}. "
                                "Check the id with `mlxcpp resolve {}` or `mlxcpp search`", subject, r.status, said,
                                has_token ? " and your token cannot see it" : " (set HF_TOKEN if it is yours)", repo_id));
  if (r.status == 403 && msg.find("disabled") != std::string::npos)
    return HubError(K::Disabled, fmt::format("{}: the repository is disabled by its owner (HTTP 403)", subject));
  if (r.status == 403)
    return HubError(K::NoAccess, fmt::format("{}: access denied (HTTP 403){}. The token from {} lacks read "
                                             "permission for {}", subject, said,
                                             has_token ? s.token_source : "nowhere (none set)", page));
  if (r.status == 429)
    return HubError(K::RateLimited, fmt::format("{}: rate limited by the Hub (HTTP 429) after retries{}. Wait a "
                                                "few minutes; a token raises the limit", subject, said));
  if (r.status >= 500)
    return HubError(K::Server, fmt::format("{}: Hub server error (HTTP {}) after retries{}", subject, r.status, said));
  return HubError(K::Other, fmt::format("{}: unexpected HTTP {}{}", subject, r.status, said));
}

}  // namespace mlxcpp
