// Constraints for one model: its vocabulary as a trie (built on first use) and the
// compiled constraints of recent schemas and grammars, so that a schema sent again — every
// turn of an agent loop sends the same one — reuses its automaton and cached masks.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "format/model_config.h"
#include "grammar/token_constraint.h"
#include "tokenizer/tokenizer.h"

namespace mlxcpp {

class ConstraintCompiler {
 public:
  ConstraintCompiler(const ModelConfig& config, std::shared_ptr<const Tokenizer> tokenizer);

  // Throw Error naming the unsupported keyword or the grammar's line (where: the field).
  std::shared_ptr<grammar::TokenConstraint> json_schema(const nlohmann::ordered_json& schema, const std::string& where);
  std::shared_ptr<grammar::TokenConstraint> gbnf(const std::string& text);
  // An already built grammar, cached under `key` (callers make it unique to the grammar).
  std::shared_ptr<grammar::TokenConstraint> grammar(const std::string& key,
                                                    const std::function<std::shared_ptr<grammar::Grammar>()>& build);

 private:
  std::shared_ptr<const grammar::VocabularyTrie> vocabulary();

  std::mutex mutex_;
  int64_t vocab_;
  std::vector<int32_t> end_ids_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::shared_ptr<const grammar::VocabularyTrie> trie_;
  std::list<std::pair<std::string, std::shared_ptr<grammar::TokenConstraint>>> recent_;  // most recent first
};

}  // namespace mlxcpp
