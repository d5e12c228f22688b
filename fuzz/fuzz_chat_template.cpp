// Fuzzes the Jinja template lexer, parser and interpreter: any template text must either
// render or throw Error (parse errors with line/column, runtime errors, raise_exception).
#include <nlohmann/json.hpp>
#include <string>

#include "template/chat_template.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string src(reinterpret_cast<const char*>(data), size);
  try {
    const mlxcpp::ChatTemplate t(src, {{"bos_token", "<s>"}, {"eos_token", "</s>"}});
    const auto messages = nlohmann::ordered_json::parse(
        R"([{"role":"system","content":"sys"},{"role":"user","content":"hi"},{"role":"assistant","content":"yo","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]}])");
    (void)t.render(messages, nlohmann::ordered_json::array(), true);
  } catch (const mlxcpp::Error&) {
  }
  return 0;
}
