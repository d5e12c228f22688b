// Range checks for numeric flags: a usage error (exit 2) such as "--temp: must be >= 0,
// got -1", where CLI11's own would print the largest double.
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <cmath>
#include <string>
#include <utility>

namespace mlxcpp::cli {

// A number within [lo, hi]; `bound` is the rule as the error states it.
inline CLI::Validator number_in(double lo, double hi, std::string bound, std::string description) {
  return CLI::Validator(
      [lo, hi, bound](std::string& s) -> std::string {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(s, &used);
          if (used != s.size()) return fmt::format("must be a number, got {}", s);
        } catch (const std::exception&) {
          return fmt::format("must be a number, got {}", s);
        }
        return v >= lo && v <= hi ? std::string() : fmt::format("must be {}, got {}", bound, s);
      },
      std::move(description));
}

inline CLI::Validator at_least(double lo) {
  return number_in(lo, HUGE_VAL, fmt::format(">= {}", lo), fmt::format(">= {}", lo));
}

inline CLI::Validator between(double lo, double hi) {
  return number_in(lo, hi, fmt::format("between {} and {}", lo, hi), fmt::format("{} to {}", lo, hi));
}

}  // namespace mlxcpp::cli
