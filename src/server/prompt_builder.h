// Messages (and tools) → prompt tokens through the model's chat template, as mlx-lm does:
// add_generation_prompt, enable_thinking when the vocabulary has <think> markers, caller
// kwargs merged over; without a template, mlx-lm's plain "ROLE: text" fallback.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "server/model_host.h"

namespace mlxcpp {

std::vector<int32_t> chat_prompt_tokens(const ModelHost& host, const nlohmann::ordered_json& messages,
                                        const nlohmann::ordered_json& tools,
                                        const nlohmann::ordered_json& template_kwargs = nlohmann::ordered_json::object());

}  // namespace mlxcpp
