// Error reporting. Anything a user or a file can trigger throws mlxcpp::Error with a
// message that names the file, field or tensor at fault; asserts are kept for internal
// invariants only. The CLI catches Error at its boundary and exits with status 1.
#pragma once

#include <fmt/format.h>

#include <string>

#include "util/error_type.h"

namespace mlxcpp {

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace mlxcpp
