// Reading the fields of a JSON request body, shared by the APIs the server speaks (OpenAI
// Chat Completions, Completions and Responses; Anthropic Messages): each failure is an
// ApiError 400 that names the field.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "server/openai_protocol.h"

namespace mlxcpp {

[[noreturn]] void bad_request(const std::string& param, const std::string& message);

// The body as a JSON object (depth-bounded before parsing).
nlohmann::ordered_json parse_request_body(std::string_view body);

double number_field(const nlohmann::ordered_json& j, const std::string& key, double lo, double hi);
int64_t integer_field(const nlohmann::ordered_json& j, const std::string& key, int64_t lo, int64_t hi);
bool boolean_field(const nlohmann::ordered_json& j, const std::string& key);
// Whether `key` is present and not null.
bool has_field(const nlohmann::ordered_json& j, const std::string& key);

// The sampling controls every API takes under the same names (temperature up to
// `max_temperature`, top_p, top_k, min_p, seed, the penalties, logit_bias); adds their names
// to `known`.
void parse_sampling_fields(const nlohmann::ordered_json& j, SamplingParams& sampling, float max_temperature,
                           std::set<std::string>& known);

// `model` (when given) into r.model, and r.sampling checked as a whole (400s name the field).
void read_model_and_check_sampling(const nlohmann::ordered_json& j, ApiRequest& r);

// Text given as a string or as a list of parts {"type": T, F: "…"} with F = text_fields[T]
// (the parts' texts joined); any other part is a 400 at `where` naming its type. Every API
// takes message content this way, each with its own part types.
std::string joined_text(const nlohmann::ordered_json& v, const std::string& where,
                        const std::map<std::string, std::string>& text_fields = {{"text", "text"}});

// A 400 for the first field of `j` not in `known`.
void reject_unknown_fields(const nlohmann::ordered_json& j, const std::set<std::string>& known);

// tool_choice against the request's tools and its other constraints.
void check_tool_choice(const ApiRequest& r);

}  // namespace mlxcpp
