#include "cli/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

namespace mlxcpp::cli {

std::function<void(const PullEvent&)> pull_progress_printer() {
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  auto last_draw = std::make_shared<std::chrono::steady_clock::time_point>();
  return [tty, last_draw](const PullEvent& e) {
    const double mb = 1e6;
    if (e.kind == PullEvent::FileRetry) {
      std::fprintf(stderr, "%s%s: %s\n", tty ? "\r\033[K" : "", e.path.c_str(), e.message.c_str());
      return;
    }
    if (!tty) {
      if (e.kind == PullEvent::FileStart) std::fprintf(stderr, "fetching %s (%.1f MB)\n", e.path.c_str(), double(e.file_size) / mb);
      if (e.kind == PullEvent::FileDone)
        std::fprintf(stderr, "done %s [%.1f/%.1f MB total]\n", e.path.c_str(), double(e.total_done) / mb, double(e.total_size) / mb);
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (e.kind == PullEvent::FileBytes && now - *last_draw < std::chrono::milliseconds(100)) return;
    *last_draw = now;
    const double frac = e.total_size ? double(e.total_done) / double(e.total_size) : 1.0;
    const int width = 30, filled = int(frac * width + 0.5);
    std::fprintf(stderr, "\r\033[K[%.*s%*s] %3.0f%% %.1f/%.1f MB  %s", filled, "##############################",
                 width - filled, "", frac * 100, double(e.total_done) / mb, double(e.total_size) / mb, e.path.c_str());
    if (e.kind == PullEvent::FileDone && e.total_done >= e.total_size) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

std::function<void(size_t, size_t)> count_progress_printer(const char* what) {
  if (!::isatty(STDERR_FILENO)) return {};
  return [what](size_t done, size_t total) {
    std::fprintf(stderr, "\r%s: %zu/%zu", what, done, total);
    if (done >= total) std::fputc('\n', stderr);
    std::fflush(stderr);
  };
}

}  // namespace mlxcpp::cli
