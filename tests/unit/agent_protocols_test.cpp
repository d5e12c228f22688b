// The OpenAI Responses and Anthropic Messages wire formats: requests become the chat
// messages a template renders (tool calls and their results in place), bad input is a
// 400 or 404 naming the field, answers and streams have each API's shape, and stored
// responses are bounded.
#include <gtest/gtest.h>

#include "server/anthropic_protocol.h"
#include "server/responses_protocol.h"

namespace mlxcpp {
namespace {

using ojson = nlohmann::ordered_json;
const ApiLimits limits;

std::pair<int, std::string> refusal(const std::function<void()>& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return {e.status(), e.param()};
  }
  return {200, ""};
}

TEST(Responses, InputItemsBecomeChatMessages) {
  ResponseStore store;
  const ResponsesRequest r = parse_responses_request(R"({
    "model": "m", "instructions": "Be brief.", "max_output_tokens": 7, "temperature": 0.5,
    "input": [{"role": "developer", "content": "rules"},
              {"role": "user", "content": [{"type": "input_text", "text": "Weather "}, {"type": "input_text", "text": "in Paris?"}]},
              {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
              {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"},
              {"type": "function_call_output", "call_id": "c1", "output": "Sunny"}],
    "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
    "parallel_tool_calls": false, "text": {"format": {"type": "json_object"}}})",
                                                     limits, store);
  const ojson& m = r.api.messages;
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0], (ojson{{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_EQ(m[1]["role"], "system");
  EXPECT_EQ(m[2]["content"], "Weather in Paris?");
  // The call joins the assistant's text, with its arguments as an object.
  EXPECT_EQ(m[3]["content"], "Checking.");
  EXPECT_EQ(m[3]["tool_calls"][0]["function"]["arguments"]["city"], "Paris");
  EXPECT_EQ(m[4], (ojson{{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "Sunny"}, {"name", "get_weather"}}));
  EXPECT_EQ(r.api.tools[0]["function"]["name"], "get_weather");
  EXPECT_EQ(r.api.max_tokens, 7);
  EXPECT_FLOAT_EQ(r.api.sampling.temperature, 0.5f);
  EXPECT_FALSE(r.api.parallel_tool_calls);
  EXPECT_EQ(r.api.json_schema, (ojson{{"type", "object"}}));
  EXPECT_EQ(r.conversation.size(), 4u) << "the store keeps the conversation without instructions";
  EXPECT_EQ(r.echo["instructions"], "Be brief.");
}

TEST(Responses, BadInputIsRefusedNamingTheField) {
  ResponseStore store;
  const auto parse = [&](const std::string& body) { return refusal([&] { parse_responses_request(body, limits, store); }); };
  EXPECT_EQ(parse(R"({"input": "x", "frobnicate": 1})"), std::make_pair(400, std::string("frobnicate")));
  EXPECT_EQ(parse(R"({})"), std::make_pair(400, std::string("input")));
  EXPECT_EQ(parse(R"({"input": "x", "tools": [{"type": "web_search"}]})"), std::make_pair(400, std::string("tools[0]")));
  EXPECT_EQ(parse(R"({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]})"),
            std::make_pair(400, std::string("input[0].content")));
  EXPECT_EQ(parse(R"({"input": "x", "previous_response_id": "resp_gone"})"), std::make_pair(404, std::string("previous_response_id")));
  EXPECT_EQ(parse(R"({"input": [{"type": "item_reference", "id": "fc_gone"}]})"), std::make_pair(404, std::string("input[0]")));
  EXPECT_EQ(parse(R"({"input": "x", "text": {"format": {"type": "json_schema"}}})"), std::make_pair(400, std::string("text.format")));
  EXPECT_EQ(parse(R"({"input": "x", "tool_choice": "required"})"), std::make_pair(400, std::string("tool_choice")));
  EXPECT_EQ(parse(R"({"input": "x", "background": true})"), std::make_pair(400, std::string("background")));
  EXPECT_EQ(parse(R"({"input": "x", "temperature": 3})"), std::make_pair(400, std::string("temperature")));
}

TEST(Responses, PreviousResponsesAndTheirItemsAreFoundUntilEvicted) {
  auto store = std::make_shared<ResponseStore>(2);
  GenerationResult g;
  g.text = "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": 1}}\n</tool_call>";
  g.prompt_tokens = 5;
  g.generation_tokens = 9;
  g.finish_reason = "stop";
  const std::vector<ToolCall> calls = {{"call_0", "f", R"({"a":1})"}};
  std::string item_id;
  for (const char* id : {"resp_1", "resp_2", "resp_3"}) {
    ResponsesRequest r = parse_responses_request(R"({"input": "hi"})", limits, *store);
    const ojson whole = ojson::parse(responses_answer_writer(std::move(r), {id, 1, "m", nullptr, 5}, store)->whole(g, &calls));
    EXPECT_EQ(whole["status"], "completed");
    EXPECT_EQ(whole["output"][0]["type"], "function_call");
    EXPECT_EQ(whole["usage"]["total_tokens"], 14);
    if (item_id.empty()) item_id = whole["output"][0]["id"];
  }
  EXPECT_FALSE(store->conversation("resp_1")) << "two kept: the oldest went";
  EXPECT_FALSE(store->item(item_id));
  const auto conv = store->conversation("resp_3");
  ASSERT_TRUE(conv);
  ASSERT_EQ(conv->size(), 2u);
  EXPECT_EQ((*conv)[1]["tool_calls"][0]["function"]["arguments"]["a"], 1);
  // The next turn starts from it.
  const ResponsesRequest next = parse_responses_request(R"({"input": "again", "previous_response_id": "resp_3"})", limits, *store);
  EXPECT_EQ(next.api.messages.size(), 3u);
}

TEST(Responses, StreamEventsAreNumberedAndEndInTheFinalResponse) {
  auto store = std::make_shared<ResponseStore>();
  auto w = responses_answer_writer(parse_responses_request(R"({"input": "hi", "stream": true})", limits, *store), {"resp_x", 1, "m", nullptr, 3}, store);
  GenerationResult g;
  g.text = "Hello world";
  g.finish_reason = "length";
  std::string all = w->stream_open();
  all += w->stream_text("Hello");
  all += w->stream_text(" world");
  all += w->stream_close(g, nullptr);
  std::vector<ojson> events;
  for (size_t at = 0; (at = all.find("data: ", at)) != std::string::npos; at += 6)
    events.push_back(ojson::parse(all.substr(at + 6, all.find('\n', at) - at - 6)));
  ASSERT_EQ(events.size(), 10u);
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i]["sequence_number"], i);
  EXPECT_EQ(events[0]["type"], "response.created");
  EXPECT_EQ(events[4]["delta"], "Hello");
  EXPECT_EQ(events[6]["text"], "Hello world");
  EXPECT_EQ(events[9]["type"], "response.incomplete");
  EXPECT_EQ(events[9]["response"]["incomplete_details"]["reason"], "max_output_tokens");
  EXPECT_NE(all.find("event: response.output_text.delta\ndata: "), std::string::npos);
}

TEST(AnthropicMessages, BlocksBecomeChatMessages) {
  const ApiRequest r = parse_messages_request(R"({
    "model": "m", "max_tokens": 9, "temperature": 0.2, "stop_sequences": ["END"],
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": "Weather?"},
                 {"role": "assistant", "content": [{"type": "thinking", "thinking": "...", "signature": "s"},
                                                   {"type": "text", "text": "Looking."},
                                                   {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Rome"}}]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "Rain"}]},
                                              {"type": "text", "text": "And tomorrow?"}]}],
    "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "tool", "name": "get_weather"}, "thinking": {"type": "disabled"}})",
                                              limits);
  const ojson& m = r.messages;
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0], (ojson{{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_EQ(m[2]["content"], "Looking.");
  EXPECT_EQ(m[2]["tool_calls"][0]["function"]["arguments"]["city"], "Rome");
  EXPECT_EQ(m[3], (ojson{{"role", "tool"}, {"tool_call_id", "toolu_1"}, {"content", "Rain"}, {"name", "get_weather"}}));
  EXPECT_EQ(m[4], (ojson{{"role", "user"}, {"content", "And tomorrow?"}}));
  EXPECT_EQ(r.tools[0]["function"]["parameters"], (ojson{{"type", "object"}}));
  EXPECT_EQ(r.tool_choice, "function");
  EXPECT_EQ(r.tool_name, "get_weather");
  EXPECT_EQ(r.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r.chat_template_kwargs["enable_thinking"], false);
  EXPECT_EQ(r.max_tokens, 9);
}

TEST(AnthropicMessages, BadInputIsRefusedNamingTheField) {
  const auto parse = [&](const std::string& body) { return refusal([&] { parse_messages_request(body, limits); }); };
  const std::string hi = R"("messages": [{"role": "user", "content": "hi"}])";
  EXPECT_EQ(parse("{" + hi + "}"), std::make_pair(400, std::string("max_tokens")));
  EXPECT_EQ(parse(R"({"max_tokens": 5, "temperature": 1.5, )" + hi + "}"), std::make_pair(400, std::string("temperature")));
  EXPECT_EQ(parse(R"({"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]})"),
            std::make_pair(400, std::string("messages[0].content[0]")));
  EXPECT_EQ(parse(R"({"max_tokens": 5, "messages": [{"role": "system", "content": "x"}]})"), std::make_pair(400, std::string("messages[0].role")));
  EXPECT_EQ(parse(R"({"max_tokens": 5, "tools": [{"type": "web_search_20250305", "name": "s"}], )" + hi + "}"),
            std::make_pair(400, std::string("tools[0]")));
  EXPECT_EQ(parse(R"({"max_tokens": 5, "tool_choice": {"type": "any"}, )" + hi + "}"), std::make_pair(400, std::string("tool_choice")));
  EXPECT_EQ(parse(R"({"max_tokens": 5, "betas": [], )" + hi + "}"), std::make_pair(400, std::string("betas")));
  // count_tokens takes no max_tokens.
  EXPECT_EQ(refusal([&] { parse_messages_request("{" + hi + "}", limits, true); }).first, 200);
  EXPECT_EQ(anthropic_error_json(ApiError(404, "x", "", "gone")),
            (nlohmann::json{{"type", "error"}, {"error", {{"type", "not_found_error"}, {"message", "gone"}}}}));
}

TEST(AnthropicMessages, StopReasonsAndUsage) {
  GenerationResult g;
  g.text = "abc";
  g.prompt_tokens = 10;
  g.cached_prompt_tokens = 4;
  g.generation_tokens = 3;
  g.finish_reason = "stop";
  const auto whole = [&](const std::vector<ToolCall>* calls) { return ojson::parse(messages_answer_writer({"msg_1", 0, "m", nullptr, 10})->whole(g, calls)); };
  ojson m = whole(nullptr);
  EXPECT_EQ(m["stop_reason"], "end_turn");
  EXPECT_EQ(m["usage"], (ojson{{"input_tokens", 6}, {"output_tokens", 3}, {"cache_creation_input_tokens", 0}, {"cache_read_input_tokens", 4}}));
  g.stop_string = "END";
  EXPECT_EQ(whole(nullptr)["stop_reason"], "stop_sequence");
  EXPECT_EQ(whole(nullptr)["stop_sequence"], "END");
  g.finish_reason = "length";
  g.stop_string.clear();
  EXPECT_EQ(whole(nullptr)["stop_reason"], "max_tokens");
  const std::vector<ToolCall> calls = {{"call_0", "f", R"({"a":1})"}};
  m = whole(&calls);
  EXPECT_EQ(m["stop_reason"], "tool_use");
  EXPECT_EQ(m["content"][0]["input"], (ojson{{"a", 1}}));
}

}  // namespace
}  // namespace mlxcpp
