// Small file-system helpers: whole-file reads and atomic writes (write to a temporary
// file in the same directory, fsync, rename), so no reader ever sees a half-written file.
#pragma once

#include <exception>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace mlxcpp {

std::string read_text_file(const std::filesystem::path& path);

// Parses a JSON file; errors name the file and the parser's position.
nlohmann::json read_json_file(const std::filesystem::path& path);
// A JSON library exception's message for a user: "parse error at line 2, column 1: …",
// without the library's "[json.exception.parse_error.101] " tag.
std::string json_error_text(const std::exception& e);
// Whether JSON text nests arrays and objects more than `limit` deep, found by one scan of
// the bytes (strings skipped) before any parser allocates a value per level: a 1 MB body
// of '[' would otherwise become a million nested values.
bool json_nesting_exceeds(std::string_view text, int limit);

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

}  // namespace mlxcpp
