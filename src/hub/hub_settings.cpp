#include "hub/hub_settings.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "hub/hf_cache.h"

namespace mlxcpp {
namespace fs = std::filesystem;

namespace {


std::string trim(std::string s) {
  const auto ws = [](unsigned char c) { return std::isspace(c) != 0; };
  s.erase(s.begin(), std::find_if_not(s.begin(), s.end(), ws));
  s.erase(std::find_if_not(s.rbegin(), s.rend(), ws).base(), s.end());
  return s;
}

fs::path hf_home() {
  if (auto h = env_string("HF_HOME"); !h.empty()) return h;
  if (auto x = env_string("XDG_CACHE_HOME"); !x.empty()) return fs::path(x) / "huggingface";
  return fs::path(env_string("HOME")) / ".cache" / "huggingface";
}

double env_seconds(const char* name, double fallback) {
  const std::string v = env_string(name);
  if (v.empty()) return fallback;
  try {
    return std::stod(v);
  } catch (...) {
    return fallback;
  }
}

std::string host_of(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  const auto start = scheme + 3;
  const auto end = url.find_first_of("/?#", start);
  return url.substr(0, end == std::string::npos ? url.size() : end);  // scheme://host[:port]
}

}  // namespace

bool env_flag(const char* name) {
  std::string v = env_string(name);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  return v == "1" || v == "on" || v == "yes" || v == "true";
}

HubSettings HubSettings::from_environment() {
  HubSettings s;
  if (auto e = env_string("HF_ENDPOINT"); !e.empty()) {
    while (!e.empty() && e.back() == '/') e.pop_back();
    s.endpoint = e;
  }
  s.offline = env_flag("HF_HUB_OFFLINE") || env_flag("TRANSFORMERS_OFFLINE");
  s.implicit_token = !env_flag("HF_HUB_DISABLE_IMPLICIT_TOKEN");
  s.cache_dir = hub_cache_dir();
  if (auto c = env_string("MLXCPP_CACHE"); !c.empty()) s.app_cache_dir = c;
  else if (auto x = env_string("XDG_CACHE_HOME"); !x.empty()) s.app_cache_dir = fs::path(x) / "mlxcpp";
  else s.app_cache_dir = fs::path(env_string("HOME")) / ".cache" / "mlxcpp";
  s.search_ttl_s = env_seconds("MLXCPP_SEARCH_TTL", s.search_ttl_s);
  if (auto t = trim(env_string("HF_TOKEN")); !t.empty()) {
    s.token = t, s.token_source = "HF_TOKEN";
  } else if (auto t2 = trim(env_string("HUGGING_FACE_HUB_TOKEN")); !t2.empty()) {
    s.token = t2, s.token_source = "HUGGING_FACE_HUB_TOKEN";
  } else {
    const fs::path file = env_string("HF_TOKEN_PATH").empty() ? hf_home() / "token" : fs::path(env_string("HF_TOKEN_PATH"));
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    if (auto t3 = trim(ss.str()); !t3.empty()) s.token = t3, s.token_source = file.string();
  }
  s.metadata_timeout_s = env_seconds("HF_HUB_ETAG_TIMEOUT", s.metadata_timeout_s);
  s.download_timeout_s = env_seconds("HF_HUB_DOWNLOAD_TIMEOUT", s.download_timeout_s);
  if (auto origin = env_string("HF_HUB_USER_AGENT_ORIGIN"); !origin.empty()) s.user_agent += "; origin/" + origin;
  return s;
}

std::string HubSettings::authorization_for(const std::string& url) const {
  if (token.empty() || !implicit_token) return "";
  // Pre-signed CDN URLs on another host must never see the token (hf-hub.md §1.2).
  if (host_of(url) != host_of(endpoint)) return "";
  return "Bearer " + token;
}

}  // namespace mlxcpp
