#include "server/request_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "util/files.h"

namespace mlxcpp {

using ojson = nlohmann::ordered_json;

[[noreturn]] void bad_request(const std::string& param, const std::string& message) {
  throw ApiError(400, "invalid_request_error", param, message);
}

ojson parse_request_body(std::string_view body) {
  if (json_nesting_exceeds(body, kMaxJsonDepth)) bad_request("", fmt::format("the request body nests more than {} levels", kMaxJsonDepth));
  auto j = ojson::parse(body, nullptr, false);
  if (j.is_discarded()) bad_request("", "the request body is not valid JSON");
  if (!j.is_object()) bad_request("", "the request body must be a JSON object");
  return j;
}

double number_field(const ojson& j, const std::string& key, double lo, double hi) {
  const auto& v = j[key];
  if (!v.is_number()) bad_request(key, fmt::format("'{}' must be a number", key));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) bad_request(key, fmt::format("'{}' must be between {} and {} (got {})", key, lo, hi, x));
  return x;
}

int64_t integer_field(const ojson& j, const std::string& key, int64_t lo, int64_t hi) {
  const auto& v = j[key];
  if (!v.is_number_integer()) bad_request(key, fmt::format("'{}' must be an integer", key));
  const int64_t x = v.get<int64_t>();
  if (x < lo || x > hi) bad_request(key, fmt::format("'{}' must be between {} and {} (got {})", key, lo, hi, x));
  return x;
}

bool boolean_field(const ojson& j, const std::string& key) {
  if (!j[key].is_boolean()) bad_request(key, fmt::format("'{}' must be true or false", key));
  return j[key].get<bool>();
}

bool has_field(const ojson& j, const std::string& key) { return j.contains(key) && !j[key].is_null(); }

void parse_sampling_fields(const ojson& j, SamplingParams& sampling, float max_temperature, std::set<std::string>& known) {
  known.insert({"temperature", "top_p", "top_k", "min_p", "seed", "presence_penalty", "frequency_penalty",
                "repetition_penalty", "repetition_context_size", "logit_bias"});
  if (has_field(j, "temperature")) sampling.temperature = float(number_field(j, "temperature", 0, max_temperature));
  if (has_field(j, "top_p")) sampling.top_p = float(number_field(j, "top_p", 0, 1));
  if (has_field(j, "top_k")) sampling.top_k = int(integer_field(j, "top_k", 0, 1 << 20));
  if (has_field(j, "min_p")) sampling.min_p = float(number_field(j, "min_p", 0, 1));
  if (has_field(j, "seed")) sampling.seed = uint64_t(integer_field(j, "seed", INT64_MIN, INT64_MAX));
  if (has_field(j, "presence_penalty"))
    sampling.presence_penalty = float(number_field(j, "presence_penalty", -2, 2));
  if (has_field(j, "frequency_penalty"))
    sampling.frequency_penalty = float(number_field(j, "frequency_penalty", -2, 2));
  if (has_field(j, "repetition_penalty"))
    sampling.repetition_penalty = float(number_field(j, "repetition_penalty", 0, 10));
  if (has_field(j, "repetition_context_size"))
    sampling.repetition_context_size = int(integer_field(j, "repetition_context_size", 1, 1 << 20));
  if (has_field(j, "logit_bias")) {
    if (!j["logit_bias"].is_object()) bad_request("logit_bias", "'logit_bias' must be an object of token id → bias");
    for (const auto& [k, v] : j["logit_bias"].items()) {
      size_t used = 0;
      long long id = -1;
      try {
        id = std::stoll(k, &used);
      } catch (...) {
      }
      if (used != k.size() || id < 0 || id > INT32_MAX) bad_request("logit_bias", fmt::format("logit_bias key '{}' is not a token id", k));
      if (!v.is_number() || v.get<double>() < -100 || v.get<double>() > 100)
        bad_request("logit_bias", fmt::format("logit_bias for token {} must be a number in [-100, 100]", k));
      sampling.logit_bias[int32_t(id)] = v.get<float>();
    }
  }
}

void read_model_and_check_sampling(const ojson& j, ApiRequest& r) {
  try {
    validate_sampling(r.sampling);
  } catch (const Error& e) {
    bad_request("", e.what());
  }
  if (has_field(j, "model")) {
    if (!j["model"].is_string()) bad_request("model", "'model' must be a string");
    r.model = j["model"];
  }
}

std::string joined_text(const ojson& v, const std::string& where, const std::map<std::string, std::string>& text_fields) {
  if (v.is_string()) return v;
  if (!v.is_array()) bad_request(where, "content must be a string or a list of text parts");
  std::string out;
  for (const auto& part : v) {
    const std::string type = part.is_object() && part.contains("type") && part["type"].is_string() ? part["type"].get<std::string>() : "";
    const auto field = text_fields.find(type);
    if (field == text_fields.end() || !part.contains(field->second) || !part[field->second].is_string())
      bad_request(where, fmt::format("content part type '{}' is not supported here (text parts only)", type));
    out += part[field->second].get<std::string>();
  }
  return out;
}

void reject_unknown_fields(const ojson& j, const std::set<std::string>& known) {
  for (const auto& [k, v] : j.items())
    if (!known.count(k)) bad_request(k, fmt::format("unknown or unsupported field '{}'", k));
}

void check_tool_choice(const ApiRequest& r) {
  if (r.tool_choice == "required" || r.tool_choice == "function") {
    if (r.tools.is_null()) bad_request("tool_choice", fmt::format("tool_choice '{}' needs tools", r.tool_choice));
    if (r.tool_choice == "function" &&
        std::none_of(r.tools.begin(), r.tools.end(), [&](const ojson& t) { return t["function"]["name"] == r.tool_name; }))
      bad_request("tool_choice", fmt::format("tool_choice names '{}', which is not among the tools", r.tool_name));
    if (!r.json_schema.is_null() || !r.grammar.empty())
      bad_request("tool_choice", "a required tool call and response_format or grammar cannot be used together");
  }
}

}  // namespace mlxcpp
