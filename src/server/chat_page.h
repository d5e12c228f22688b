// The chat page that `mlxcpp serve` gives at "/" (src/server/chat_page/: index.html,
// chat.js, chat.css), compiled into the binary by cmake/embed_files.cmake.
#pragma once

#include <optional>
#include <string_view>
#include <utility>

namespace mlxcpp {

struct PageFile {
  std::string_view content_type;
  std::string_view body;
};

// The file served at `path` ("/", "/chat.js", "/chat.css"), or nullopt.
std::optional<PageFile> chat_page_file(std::string_view path);

}  // namespace mlxcpp
