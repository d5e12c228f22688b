// The BPE model of tokenizer.json, in both flavours: byte-level (GPT-2 style: the
// pre-tokenizer has already mapped bytes to printable characters) and SentencePiece-style
// with byte_fallback (<0xXX> tokens for characters missing from the vocabulary).
// Merges are applied lowest rank first, as HF tokenizers does.
#pragma once

#include <cstdint>
#include <array>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mlxcpp {

class BpeModel {
 public:
  BpeModel(const nlohmann::json& model, const std::string& where);

  // Appends the ids of one pre-tokenized piece. Thread-safe (the word cache is locked).
  void encode(std::string_view word, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(std::string_view token) const;
  const std::string* id_to_token(int32_t id) const;  // null when out of range or unassigned
  size_t vocab_size() const { return id_to_token_.size(); }
  bool byte_fallback() const { return byte_fallback_; }

 private:
  struct MergeTarget {
    int32_t rank;
    int32_t id;
  };
  void encode_uncached(std::string_view word, std::vector<int32_t>& out) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<uint64_t, MergeTarget> merges_;  // (left id << 32 | right id) → merge
  std::optional<int32_t> unk_id_;
  std::string continuing_subword_prefix_, end_of_word_suffix_;
  bool byte_fallback_ = false, fuse_unk_ = false, ignore_merges_ = false;
  std::array<int32_t, 256> byte_tokens_{};  // id of <0xXX>, or -1

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace mlxcpp
