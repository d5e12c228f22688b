// The cost of constrained decoding on a vocabulary (default: Llama 3's 128k tokens): the
// vocabulary trie (once per model), a schema's compilation, its first mask, and the masks
// of a whole document generated through them, cold (first use) and warm (the schema used
// again: every mask cached), timing only the constraint's own calls (mask and advance).
// Prints one JSON object.
//   constraint_bench [TOKENIZER_DIR] [--properties N]
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "grammar/json_schema.h"
#include "grammar/token_constraint.h"
#include "tokenizer/tokenizer.h"

using namespace mlxcpp;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

int main(int argc, char** argv) {
  std::string dir = std::string(MLXCPP_SOURCE_DIR) + "/data/tokenizers/llama3";
  int properties = 50;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--properties" && i + 1 < argc) properties = std::stoi(argv[++i]);
    else dir = argv[i];
  }
  const auto tok = Tokenizer::load(dir);
  // A schema of N properties of mixed kinds, all required.
  nlohmann::ordered_json schema = {{"type", "object"}, {"additionalProperties", false}};
  const char* kinds[] = {"string", "integer", "number", "boolean", "date", "enum"};
  for (int i = 0; i < properties; ++i) {
    const std::string k = kinds[i % 6], name = "field_" + std::to_string(i);
    nlohmann::ordered_json p;
    if (k == "date") p = {{"type", "string"}, {"format", "date"}};
    else if (k == "enum") p = {{"enum", {"low", "medium", "high"}}};
    else if (k == "string") p = {{"type", "string"}, {"maxLength", 24}};
    else p = {{"type", k}};
    schema["properties"][name] = p;
    schema["required"].push_back(name);
  }
  auto t = Clock::now();
  const auto bytes = tok->token_bytes();
  const auto trie = std::make_shared<grammar::VocabularyTrie>(bytes, std::vector<int32_t>{*tok->eos_id()});
  const double trie_ms = ms_since(t);
  t = Clock::now();
  auto constraint = std::make_shared<grammar::TokenConstraint>(grammar::json_schema_grammar(schema), trie);
  const double compile_ms = ms_since(t);
  t = Clock::now();
  constraint->mask(constraint->start());
  const double first_mask_ms = ms_since(t);
  // One document through the masks, twice: the same token choices (same seed).
  double pass_ms[2] = {0, 0};
  int tokens = 0;
  for (int pass = 0; pass < 2; ++pass) {
    std::mt19937 rng(1);
    int32_t s = constraint->start();
    tokens = 0;
    while (!constraint->finished(s) && tokens < 4000) {
      t = Clock::now();
      const auto m = constraint->mask(s);
      pass_ms[pass] += ms_since(t);
      // The shortest allowed tokens first, as a model mostly writes: pick among the
      // allowed tokens of at most 3 bytes when there are any.
      std::vector<int32_t> pick;
      for (int32_t id = 0; id < trie->vocab(); ++id)
        if (grammar::mask_allows(*m, id) && trie->bytes(id).size() <= 3 && !trie->bytes(id).empty()) pick.push_back(id);
      if (pick.empty()) break;
      const int32_t id = pick[rng() % pick.size()];
      t = Clock::now();
      s = constraint->advance(s, id);
      pass_ms[pass] += ms_since(t);
      ++tokens;
    }
  }
  std::printf(
      "{\"vocab\": %d, \"properties\": %d, \"trie_ms\": %.1f, \"compile_ms\": %.2f, \"first_mask_ms\": %.2f, "
      "\"document_tokens\": %d, \"cold_ms_per_token\": %.3f, \"warm_ms_per_token\": %.4f}\n",
      trie->vocab(), properties, trie_ms, compile_ms, first_mask_ms, tokens, pass_ms[0] / tokens, pass_ms[1] / tokens);
}
