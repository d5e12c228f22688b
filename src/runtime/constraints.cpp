#include "runtime/constraints.h"

#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "runtime/generator.h"

namespace mlxcpp {
namespace {

constexpr size_t kRecent = 32;

}  // namespace

ConstraintCompiler::ConstraintCompiler(const ModelConfig& config, std::shared_ptr<const Tokenizer> tokenizer)
    : vocab_(config.vocab_size), end_ids_(eos_token_ids(config, *tokenizer)), tokenizer_(std::move(tokenizer)) {}

std::shared_ptr<const grammar::VocabularyTrie> ConstraintCompiler::vocabulary() {
  if (!trie_) {
    std::vector<std::string> bytes = tokenizer_->token_bytes();
    // The model's logits may cover more ids than the tokenizer names (padding): never allowed.
    bytes.resize(std::max<size_t>(bytes.size(), size_t(vocab_)));
    trie_ = std::make_shared<grammar::VocabularyTrie>(bytes, end_ids_);
  }
  return trie_;
}

std::shared_ptr<grammar::TokenConstraint> ConstraintCompiler::grammar(
    const std::string& key, const std::function<std::shared_ptr<grammar::Grammar>()>& build) {
  std::lock_guard lock(mutex_);
  for (auto it = recent_.begin(); it != recent_.end(); ++it)
    if (it->first == key) {
      recent_.splice(recent_.begin(), recent_, it);
      return recent_.front().second;
    }
  auto c = std::make_shared<grammar::TokenConstraint>(build(), vocabulary());
  recent_.emplace_front(key, c);
  if (recent_.size() > kRecent) recent_.pop_back();
  return c;
}

std::shared_ptr<grammar::TokenConstraint> ConstraintCompiler::json_schema(const nlohmann::ordered_json& schema,
                                                                          const std::string& where) {
  return grammar("schema:" + schema.dump(), [&] { return grammar::json_schema_grammar(schema, where); });
}

std::shared_ptr<grammar::TokenConstraint> ConstraintCompiler::gbnf(const std::string& text) {
  return grammar("gbnf:" + text, [&] { return grammar::parse_gbnf(text); });
}

}  // namespace mlxcpp
