// tokenizer.json post-processors, which add special tokens around an encoded sequence
// when add_special_tokens is true: TemplateProcessing, BertProcessing, RobertaProcessing,
// ByteLevel (no effect on ids), Sequence.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace mlxcpp {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual std::vector<int32_t> apply(std::vector<int32_t> ids) const = 0;
};

std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::json& j, const std::string& where);

}  // namespace mlxcpp
