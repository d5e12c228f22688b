// Fuzzes tokenizer.json loading and then encoding/decoding with whatever loaded: any
// input must either load (and then encode and decode without crashing) or throw Error.
#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    const mlxcpp::Tokenizer tok(j, "fuzz");
    const auto ids = tok.encode("Hello wörld 123 <s> \xf0\x9f\x98\x80", true);
    (void)tok.decode(ids, false);
  } catch (const mlxcpp::Error&) {
  } catch (const nlohmann::json::exception&) {
    // Tokenizer::load wraps these; the constructor used directly lets them through.
  }
  return 0;
}
