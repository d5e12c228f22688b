#include "server/answer_writer.h"

#include <chrono>
#include <random>

namespace mlxcpp {

std::string random_id(const char* prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string id = prefix;
  for (int i = 0; i < 24; ++i) id += hex[rng() & 15];
  return id;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string sse_event(const nlohmann::ordered_json& data, const std::string& name) {
  // Invalid UTF-8 in generated text (a token cut inside a character) becomes U+FFFD rather
  // than an exception in the middle of a stream.
  std::string out = name.empty() ? "" : "event: " + name + "\n";
  out += "data: " + data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
  return out;
}

}  // namespace mlxcpp
