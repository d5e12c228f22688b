// The OpenAI Responses API (POST /v1/responses), as the `openai` SDK's responses.create,
// the AI SDK's default OpenAI provider and Codex call it: input items (messages,
// function calls and their outputs, references to stored items), instructions, function
// tools, text.format (json_schema / json_object), previous_response_id; the answer as a
// response object or as its stream of typed events (response.created …
// response.completed). Requests become an ApiRequest of the chat kind, so generation,
// tool-call parsing and constraints are the ones Chat Completions uses.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "server/answer_writer.h"
#include "server/openai_protocol.h"

namespace mlxcpp {

// Responses kept in memory for previous_response_id and item references (store: true):
// each one's conversation (chat messages, instructions excluded, as the API specifies)
// and its output items by id. The least recently used go first when more than
// `max_responses` or `max_bytes` of JSON are held.
class ResponseStore {
 public:
  explicit ResponseStore(size_t max_responses = 1000, size_t max_bytes = size_t(64) << 20)
      : max_responses_(max_responses), max_bytes_(max_bytes) {}

  std::optional<nlohmann::ordered_json> conversation(const std::string& response_id);
  std::optional<nlohmann::ordered_json> item(const std::string& item_id);
  void put(const std::string& response_id, nlohmann::ordered_json conversation, const nlohmann::ordered_json& output);

 private:
  struct Stored {
    std::string id;
    nlohmann::ordered_json conversation, output;
    size_t bytes = 0;
  };
  std::mutex mu_;
  std::list<Stored> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Stored>::iterator> by_id_;
  std::unordered_map<std::string, std::list<Stored>::iterator> by_item_;
  size_t bytes_ = 0, max_responses_, max_bytes_;
};

struct ResponsesRequest {
  ApiRequest api;                      // messages and tools in chat form
  nlohmann::ordered_json conversation; // what the store keeps: earlier turns + this input
  nlohmann::ordered_json echo;         // request fields the response object repeats
  bool store = true;
};

// Parses a body (400s name the field); previous_response_id and item_reference are looked
// up in `store` (an unknown id is a 404 naming it).
ResponsesRequest parse_responses_request(std::string_view body, const ApiLimits& limits, ResponseStore& store);

std::unique_ptr<AnswerWriter> responses_answer_writer(ResponsesRequest request, ResponseContext ctx,
                                                      std::shared_ptr<ResponseStore> store);

}  // namespace mlxcpp
