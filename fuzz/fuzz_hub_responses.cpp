// Fuzzes the parsing of Hub API answers (untrusted bytes from the network or a proxy): the
// file tree page (paths that could escape the cache, etags) and model entries of a search.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "hub/hub_api.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto j = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(data), size), nullptr, false);
  if (j.is_discarded()) return 0;
  try {
    for (const auto& f : mlxcpp::parse_tree_page(j, "org/name"))
      if (f.path.find("..") != std::string::npos && f.path.find("/../") != std::string::npos) __builtin_trap();
  } catch (const mlxcpp::Error&) {
  }
  if (j.is_array())
    for (const auto& item : j) {
      try {
        (void)mlxcpp::HubModel::from_json(item).to_json();
      } catch (const mlxcpp::Error&) {
      }
    }
  return 0;
}
