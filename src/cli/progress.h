// Progress on stderr. Downloads: one redrawn bar on a terminal, plain lines otherwise (logs,
// CI). Counted work (convert's tensors, perplexity's windows): a redrawn "what: i/N" on a
// terminal only.
#pragma once

#include <functional>

#include "hub/snapshot_download.h"

namespace mlxcpp::cli {

std::function<void(const PullEvent&)> pull_progress_printer();
// Empty when stderr is not a terminal.
std::function<void(size_t done, size_t total)> count_progress_printer(const char* what);

}  // namespace mlxcpp::cli
