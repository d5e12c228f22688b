// Download progress on stderr: one redrawn bar on a terminal, plain lines otherwise (logs, CI).
#pragma once

#include <functional>

#include "hub/snapshot_download.h"

namespace mlxcpp::cli {

std::function<void(const PullEvent&)> pull_progress_printer();

}  // namespace mlxcpp::cli
