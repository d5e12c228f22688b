// Reading a file that may be gzipped (the bundled tokenizers are), apart from files.h so
// that only its users link zlib.
#pragma once

#include <filesystem>
#include <string>

namespace mlxcpp {

// The file's bytes, gunzipped when its name ends in ".gz".
std::string read_file_maybe_gzipped(const std::filesystem::path& path);

}  // namespace mlxcpp
