// mlxcpp::Error alone, for headers that device compilers read too (nvcc cannot parse
// libfmt, which util/error.h's fail() uses).
#pragma once

#include <stdexcept>

namespace mlxcpp {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace mlxcpp
