// A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json), implemented
// natively: added tokens → normalizer → pre-tokenizer → BPE model → post-processor, and
// ids → tokens → decoder for the way back. Immutable after loading; encode and decode
// may be called from several threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe_model.h"

namespace mlxcpp {

class Normalizer;
class PreTokenizer;
class PostProcessor;
class Decoder;

struct NamedTemplate {
  std::string name;  // "default", "tool_use", ...
  std::string source;
};

class Tokenizer {
 public:
  // Reads dir/tokenizer.json (or tokenizer.json.gz) and, when present,
  // dir/tokenizer_config.json and dir/chat_template.jinja.
  static std::shared_ptr<const Tokenizer> load(const std::filesystem::path& dir);
  // `label` names the source in errors.
  Tokenizer(const nlohmann::json& tokenizer_json, const std::string& label);
  ~Tokenizer();

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int32_t id) const;
  size_t vocab_size() const;  // one past the largest id (model or added)
  // For every id below vocab_size(): the bytes the token adds in the middle of a text
  // (Decoder::apply_raw); empty for special tokens and unused ids.
  std::vector<std::string> token_bytes() const;
  bool is_special(int32_t id) const;
  const AddedVocabulary& added() const { return added_; }

  // From tokenizer_config.json (absent when the file is missing or silent).
  std::optional<int32_t> bos_id() const { return bos_id_; }
  std::optional<int32_t> eos_id() const { return eos_id_; }
  const std::vector<NamedTemplate>& chat_templates() const { return templates_; }
  // The template named `name`, or the default one; null when there is none.
  const std::string* chat_template(std::string_view name = "default") const;

 private:
  void encode_plain(const std::string& text, bool at_start, std::vector<int32_t>& out) const;
  void read_config(const std::filesystem::path& dir);

  std::unique_ptr<BpeModel> model_;
  AddedVocabulary added_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<PostProcessor> post_processor_;
  std::unique_ptr<Decoder> decoder_;
  std::optional<int32_t> bos_id_, eos_id_;
  std::vector<NamedTemplate> templates_;
};

}  // namespace mlxcpp
