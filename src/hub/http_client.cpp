#include "hub/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <mutex>
#include <thread>

namespace mlxcpp {
namespace {

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
};

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  return std::string(s);
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or a 100 Continue): only the last one counts.
    t->response->headers.clear();
    const auto sp = line.find(' ');
    if (sp != std::string_view::npos) t->response->status = std::strtol(std::string(line.substr(sp + 1, 3)).c_str(), nullptr, 10);
    return size * count;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    t->response->headers[name] = trim(line.substr(colon + 1));
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view chunk(data, size * count);
  const bool success = t->response->status >= 200 && t->response->status < 300;
  if (success && t->request->sink) {
    if (!t->request->sink(chunk, *t->response)) {
      t->response->aborted_by_sink = true;
      return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
    }
    return chunk.size();
  }
  if (t->response->body.size() < (64u << 20)) t->response->body.append(chunk);
  return chunk.size();
}

double parse_seconds(const std::string& text) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    return used > 0 && v >= 0 ? v : -1;
  } catch (...) {
    return -1;
  }
}

}  // namespace

// How long the server asks us to wait: RateLimit "…;t=<s>" when r=0 (+1 s, as Python), else Retry-After.
double server_wait_seconds(const HttpResponse& r) {
  // RateLimit: "api";r=<remaining>;t=<seconds to reset>
  const std::string rl = r.header("ratelimit");
  const auto field = [&](const char* key) {
    const auto at = rl.find(key);
    return at == std::string::npos ? -1.0 : parse_seconds(rl.substr(at + std::strlen(key)));
  };
  if (field(";r=") == 0 && field(";t=") >= 0) return field(";t=") + 1;
  return parse_seconds(r.header("retry-after"));
}

std::string HttpResponse::header(const std::string& lower_name) const {
  const auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpResponse http_perform(const HttpRequest& request) {
  global_init_once();
  HttpResponse response;
  CURL* curl = curl_easy_init();
  if (!curl) {
    response.transport_error = "libcurl could not create a handle";
    return response;
  }
  Transfer t{&request, &response};
  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, long(request.connect_timeout_s * 1000));
  // A stall, not a slow total, is what times a transfer out: under 1 byte/s for the limit.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, std::max(1L, long(std::ceil(request.stall_timeout_s))));
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  if (request.method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  const CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK && !response.aborted_by_sink)
    response.transport_error = error[0] ? error : curl_easy_strerror(rc);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return response;
}

bool is_retryable(const HttpResponse& r) {
  if (r.aborted_by_sink) return false;
  if (!r.transport_error.empty()) return true;
  return r.status == 408 || r.status == 429 || r.status == 500 || r.status == 502 || r.status == 503 || r.status == 504;
}

HttpResponse with_retries(const HubSettings& settings, const std::string& what,
                          const std::function<HttpResponse()>& attempt) {
  double wait = settings.retry_base_s;
  for (int tries = 0;; ++tries) {
    HttpResponse r = attempt();
    if (!is_retryable(r) || tries >= settings.max_retries) return r;
    double sleep_s = r.status == 429 || r.status == 503 ? server_wait_seconds(r) : -1;
    if (sleep_s < 0) sleep_s = std::min(wait, settings.retry_cap_s);
    std::fprintf(stderr, "mlxcpp: %s: %s; retry %d/%d in %.1f s\n", what.c_str(),
                 r.transport_error.empty() ? ("HTTP " + std::to_string(r.status)).c_str() : r.transport_error.c_str(),
                 tries + 1, settings.max_retries, sleep_s);
    std::this_thread::sleep_for(std::chrono::duration<double>(sleep_s));
    wait *= 2;
  }
}

std::string url_encode(std::string_view text, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += char(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace mlxcpp
