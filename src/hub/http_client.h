// A small blocking HTTP client over libcurl for the Hub: one request per call, response
// headers parsed (names lower-cased), the body either collected or streamed to a sink, and
// a retry loop with huggingface_hub's policy (408/429/5xx and transport errors; 1-2-4-8 s
// backoff; RateLimit and Retry-After honoured).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hub/hub_settings.h"

namespace mlxcpp {

struct HttpResponse {
  long status = 0;                             // 0 when no HTTP answer arrived
  std::map<std::string, std::string> headers;  // of the last response, lower-case names
  std::string body;                            // collected body (error bodies always land here)
  std::string transport_error;                 // libcurl's message when the exchange failed
  bool aborted_by_sink = false;

  std::string header(const std::string& lower_name) const;
  bool ok() const { return transport_error.empty() && status >= 200 && status < 300; }
};

struct HttpRequest {
  std::string method = "GET";  // GET or HEAD
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  bool follow_redirects = false;
  double connect_timeout_s = 10;
  double stall_timeout_s = 10;  // abort when no byte arrives for this long
  // Successful (2xx) bodies go here instead of HttpResponse::body; returning false aborts.
  // The response's status and headers are already filled in when it is called.
  std::function<bool(std::string_view chunk, const HttpResponse& response)> sink;
};

HttpResponse http_perform(const HttpRequest& request);

bool is_retryable(const HttpResponse& response);
// Seconds the server asked us to wait (RateLimit r=0 → t+1, else Retry-After), or -1.
double server_wait_seconds(const HttpResponse& response);

// Runs `attempt` until it gives a response that is not retryable or the retries run out;
// waits between attempts per the settings. `what` names the request in log lines (stderr).
HttpResponse with_retries(const HubSettings& settings, const std::string& what,
                          const std::function<HttpResponse()>& attempt);

// Percent-encodes everything but unreserved characters (and '/' when keep_slash).
std::string url_encode(std::string_view text, bool keep_slash = false);

}  // namespace mlxcpp
