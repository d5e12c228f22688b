// --max-kv-size, as mlx-lm users type it: here a cap on the positions a generation (or a
// chat session's turn) keeps, prompt included. mlx-lm rotates its cache past that size
// and goes on; mlxcpp keeps whole contexts, so generation stops there ("length"), which
// bounds the memory as the flag intends.
#pragma once

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>

#include "util/error.h"
#include "cli/validators.h"

namespace mlxcpp::cli {

inline void add_max_kv_size(CLI::App* cmd, int64_t& value) {
  cmd->add_option("--max-kv-size", value,
                  "Most positions kept, prompt included; generation stops there (mlx-lm's flag; it rotates instead)")
      ->check(at_least(1));
}

// max_tokens, lowered so that prompt + generated stays within max_kv_size (0: no cap).
inline int capped_max_tokens(int max_tokens, int64_t max_kv_size, size_t prompt_tokens) {
  if (max_kv_size <= 0) return max_tokens;
  if (int64_t(prompt_tokens) >= max_kv_size)
    fail("--max-kv-size {}: the prompt alone has {} tokens", max_kv_size, prompt_tokens);
  return int(std::min<int64_t>(max_tokens, max_kv_size - int64_t(prompt_tokens)));
}

}  // namespace mlxcpp::cli
