// How mlxcpp talks to the Hub, read from the same environment variables as Python's
// huggingface_hub (hf-hub.md §1.2, §5.1, §8): endpoint, token, offline mode, cache, timeouts.
// Proxies need nothing here: libcurl honours http_proxy / https_proxy / no_proxy itself.
#pragma once

#include <filesystem>
#include <string>

namespace mlxcpp {

struct HubSettings {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT, trailing '/' stripped
  std::string token;                                // HF_TOKEN, HUGGING_FACE_HUB_TOKEN, then the token file
  std::string token_source;                         // where the token came from, for messages
  bool offline = false;                             // HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE
  bool implicit_token = true;                       // HF_HUB_DISABLE_IMPLICIT_TOKEN turns it off for reads
  std::filesystem::path cache_dir;                  // hub_cache_dir()
  std::filesystem::path app_cache_dir;              // mlxcpp's own: $MLXCPP_CACHE, else $XDG_CACHE_HOME/mlxcpp
  double search_ttl_s = 3600;                       // MLXCPP_SEARCH_TTL: age at which a cached search is refreshed
  std::string user_agent = "mlxcpp/0.1.0; hf_hub/compatible";
  double metadata_timeout_s = 10;   // HF_HUB_ETAG_TIMEOUT
  double download_timeout_s = 10;   // HF_HUB_DOWNLOAD_TIMEOUT: stall limit on a transfer
  int max_retries = 5;              // as huggingface_hub's http_backoff
  double retry_base_s = 1;          // waits 1, 2, 4, 8, 8 s (× this / 1 s)
  double retry_cap_s = 8;
  int max_workers = 8;              // files downloaded at once

  static HubSettings from_environment();
  // The Authorization header value for a request to `url`, or "" (never sent off the endpoint host).
  std::string authorization_for(const std::string& url) const;
};

bool env_flag(const char* name);  // 1/ON/YES/TRUE, case-insensitive

}  // namespace mlxcpp
