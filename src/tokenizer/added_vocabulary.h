// Added tokens (tokenizer.json "added_tokens"): matched in the text before the model
// runs, leftmost-longest, honouring lstrip / rstrip / single_word; non-normalized ones
// on the raw text, normalized ones on the normalized text.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mlxcpp {

struct AddedToken {
  int32_t id;
  std::string content;
  bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

// A text split into pieces that are either plain text or one added token.
struct Segment {
  std::string text;
  int32_t added_id = -1;  // >= 0: this segment is an added token
  size_t offset = 0;      // byte offset in the text being split
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  AddedVocabulary(const nlohmann::json& added_tokens, const std::string& where);

  // Splits `text` on the tokens whose `normalized` flag equals `normalized`.
  std::vector<Segment> split(std::string_view text, bool normalized) const;

  const AddedToken* find(int32_t id) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  struct Trie {
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> next;  // sorted by byte
      int32_t token = -1;                                    // index into tokens_
    };
    std::vector<Node> nodes{Node{}};
    void insert(std::string_view s, int32_t token);
    int32_t child(int32_t node, unsigned char c) const;
  };
  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;
  Trie trie_[2];  // [0]: non-normalized tokens, [1]: normalized tokens
};

}  // namespace mlxcpp
