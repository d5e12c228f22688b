// Range checks for numeric flags: a usage error (exit 2) such as "--temp: must be >= 0,
// got -1", where CLI11's own would print the largest double.
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <string>

namespace mlxcpp::cli {

inline CLI::Validator at_least(double lo) {
  return CLI::Validator(
      [lo](std::string& s) -> std::string {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(s, &used);
          if (used != s.size()) return fmt::format("must be a number, got {}", s);
        } catch (const std::exception&) {
          return fmt::format("must be a number, got {}", s);
        }
        return v >= lo ? std::string() : fmt::format("must be >= {}, got {}", lo, s);
      },
      fmt::format(">= {}", lo));
}

inline CLI::Validator between(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(s, &used);
          if (used != s.size()) return fmt::format("must be a number, got {}", s);
        } catch (const std::exception&) {
          return fmt::format("must be a number, got {}", s);
        }
        return v >= lo && v <= hi ? std::string() : fmt::format("must be between {} and {}, got {}", lo, hi, s);
      },
      fmt::format("{} to {}", lo, hi));
}

}  // namespace mlxcpp::cli
