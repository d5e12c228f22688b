// The OpenAI wire format (parsing, validation, responses) and tool-call parsing for the
// formats the catalogue's chat templates teach, inferred from the real templates.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "server/model_registry.h"
#include "server/openai_protocol.h"
#include "server/tool_calls.h"
#include "test_support.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

ApiLimits limits;

int status_of(const std::string& body, bool chat = true) {
  try {
    chat ? parse_chat_request(body, limits) : parse_completion_request(body, limits);
  } catch (const ApiError& e) {
    return e.status();
  }
  return 200;
}

std::string param_of(const std::string& body) {
  try {
    parse_chat_request(body, limits);
  } catch (const ApiError& e) {
    return e.param();
  }
  return "(accepted)";
}

TEST(OpenAiProtocol, ChatRequestFieldsAreHonoured) {
  const ApiRequest r = parse_chat_request(R"({
    "model": "m", "messages": [{"role": "system", "content": "s"},
                               {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
    "max_completion_tokens": 33, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "seed": 9,
    "stop": "END", "presence_penalty": 0.5, "frequency_penalty": 0.25, "repetition_penalty": 1.1,
    "logit_bias": {"42": -100}, "logprobs": true, "top_logprobs": 3, "n": 1, "stream": true,
    "stream_options": {"include_usage": true}})",
                                          limits);
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.messages[1]["content"], "ab");
  EXPECT_EQ(r.max_tokens, 33);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.7f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_EQ(r.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r.sampling.min_p, 0.05f);
  EXPECT_EQ(r.sampling.seed, 9u);
  EXPECT_EQ(r.stop, std::vector<std::string>{"END"});
  EXPECT_FLOAT_EQ(r.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(r.sampling.frequency_penalty, 0.25f);
  EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.1f);
  EXPECT_FLOAT_EQ(r.sampling.logit_bias.at(42), -100.0f);
  EXPECT_EQ(r.top_logprobs, 3);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(OpenAiProtocol, DefaultsFollowMlxLmServer) {
  const ApiRequest r = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}]})", limits);
  EXPECT_EQ(r.max_tokens, 512);
  EXPECT_EQ(r.sampling.temperature, 0.0f);
  EXPECT_EQ(r.top_logprobs, -1);
  EXPECT_TRUE(r.tools.is_null());
}

TEST(OpenAiProtocol, ConstraintsAreParsed) {
  const ApiRequest a = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}],
      "response_format": {"type": "json_schema", "json_schema": {"name": "n", "strict": true,
                          "schema": {"type": "object", "properties": {"b": {}, "a": {}}}}}})", limits);
  EXPECT_EQ(a.json_schema["properties"].begin().key(), "b");  // the schema's order is kept
  const ApiRequest o = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}],
      "response_format": {"type": "json_object"}})", limits);
  EXPECT_EQ(o.json_schema, nlohmann::ordered_json({{"type", "object"}}));
  const ApiRequest t = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}],
      "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "f"}}})",
                                          limits);
  EXPECT_EQ(t.tool_choice, "function");
  EXPECT_EQ(t.tool_name, "f");
  const ApiRequest g = parse_completion_request(R"({"prompt": "x", "grammar": "root ::= \"a\""})", limits);
  EXPECT_EQ(g.grammar, "root ::= \"a\"");
}

TEST(OpenAiProtocol, BadRequestsAre400NamingTheField) {
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "frobnicate": 1})"), "frobnicate");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})"), "temperature");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "temperature": 3})"), "temperature");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "n": 2})"), "n");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 100000})"), "max_tokens");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}})"), "response_format");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}})"), "response_format");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"})"), "tool_choice");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"})"), "tool_choice");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "function", "function": {"name": "f"}},
                         "tools": [{"type": "function", "function": {"name": "g"}}]})"), "tool_choice");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "grammar": 7})"), "grammar");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"abc": 1}})"), "logit_bias");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "stop": ""})"), "stop");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})"), "top_logprobs");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}})"), "stream_options");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "wizard", "content": "x"}]})"), "messages[0].role");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})"), "messages[0].content");
  EXPECT_EQ(param_of(R"({"messages": []})"), "messages");
  EXPECT_EQ(status_of("not json"), 400);
  EXPECT_EQ(status_of("[1,2]"), 400);
  EXPECT_EQ(status_of(R"({"prompt": "x", "echo": true})", false), 400);
  EXPECT_EQ(status_of(R"({"prompt": ["a", "b"]})", false), 400);
  EXPECT_EQ(status_of(R"({"prompt": "a", "logprobs": 9})", false), 400);
}

// A body of nested brackets is refused by a scan before any parser allocates a value per
// level (1 MB of '[' raised the server's RSS by 75 MB).
TEST(OpenAiProtocol, DeepNestingIsRefusedBeforeParsing) {
  const std::string deep = "{\"messages\": " + std::string(1 << 20, '[');
  try {
    parse_chat_request(deep, ApiLimits{});
    FAIL() << "accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_NE(std::string(e.what()).find("nests more than 64 levels"), std::string::npos) << e.what();
  }
  // Brackets inside strings are text, not nesting.
  const std::string quoted = R"({"messages": [{"role": "user", "content": ")" + std::string(1000, '[') + R"("}]})";
  EXPECT_NO_THROW(parse_chat_request(quoted, ApiLimits{}));
  EXPECT_FALSE(json_nesting_exceeds(R"(["a\"[[[[", [[1]]])", 3));
  EXPECT_TRUE(json_nesting_exceeds("[[[[]]]]", 3));
}

TEST(OpenAiProtocol, AssistantToolCallArgumentsBecomeObjectsForTheTemplate) {
  const ApiRequest r = parse_chat_request(R"({"messages": [
      {"role": "user", "content": "weather?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]})",
                                          limits);
  EXPECT_EQ(r.messages[1]["tool_calls"][0]["function"]["arguments"]["city"], "Paris");
  EXPECT_EQ(r.messages[2]["tool_call_id"], "c1");
  EXPECT_EQ(r.tools.size(), 1u);
  const ApiRequest none = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "none",
    "tools": [{"type": "function", "function": {"name": "f"}}]})", limits);
  EXPECT_TRUE(none.tools.is_null()) << "tool_choice none hides the tools from the model";
}

TEST(OpenAiProtocol, ResponsesHaveOpenAiShapeAndExactUsage) {
  ApiRequest req = parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}]})", limits);
  GenerationResult r;
  r.text = "hello";
  r.finish_reason = "length";
  r.prompt_tokens = 7;
  r.cached_prompt_tokens = 3;
  r.generation_tokens = 2;
  const ResponseContext ctx{"chatcmpl-1", 123, "m", nullptr};
  const auto j = completion_response(req, r, ctx, nullptr);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "hello");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["total_tokens"], 9);
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["cached_tokens"], 3);
  const std::vector<ToolCall> calls{{"call_0", "f", R"({"a":1})"}};
  const auto t = completion_response(req, r, ctx, &calls);
  EXPECT_TRUE(t["choices"][0]["message"]["content"].is_null());
  EXPECT_EQ(t["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], R"({"a":1})");
  EXPECT_EQ(t["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(text_chunk(req, ctx, "a", true)["choices"][0]["delta"]["role"], "assistant");
  EXPECT_FALSE(text_chunk(req, ctx, "a", false)["choices"][0]["delta"].contains("role"));
  EXPECT_TRUE(usage_chunk(req, ctx, r)["choices"].empty());
}

std::string template_text(const std::string& name) {
  return read_text_file(test::data_dir() / "chat" / "templates" / name);
}

TEST(ToolCalls, FormatIsInferredFromTheRealTemplates) {
  EXPECT_EQ(infer_tool_call_format(template_text("Qwen-Qwen2.5-7B-Instruct.jinja")), ToolCallFormat::Qwen);
  EXPECT_EQ(infer_tool_call_format(template_text("qwen3.jinja")), ToolCallFormat::Qwen);
  EXPECT_EQ(infer_tool_call_format(template_text("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja")), ToolCallFormat::Qwen);
  EXPECT_EQ(infer_tool_call_format(template_text("mistralai-Mistral-Nemo-Instruct-2407.jinja")), ToolCallFormat::Mistral);
  EXPECT_EQ(infer_tool_call_format(template_text("meta-llama-Llama-3.1-8B-Instruct.jinja")), ToolCallFormat::Llama31);
  EXPECT_EQ(infer_tool_call_format(template_text("meta-llama-Llama-3.2-3B-Instruct.jinja")), ToolCallFormat::Llama31);
  EXPECT_EQ(infer_tool_call_format(template_text("tinyllama-1.1b-chat-v1.0.jinja")), ToolCallFormat::None);
}

TEST(ToolCalls, QwenBlocks) {
  const auto calls = parse_tool_calls(
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
      ToolCallFormat::Qwen);
  ASSERT_TRUE(calls);
  ASSERT_EQ(calls->size(), 2u);
  EXPECT_EQ((*calls)[0].name, "get_weather");
  EXPECT_EQ((*calls)[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ((*calls)[1].id, "call_1");
  EXPECT_FALSE(parse_tool_calls("The weather is nice.", ToolCallFormat::Qwen));
  EXPECT_FALSE(parse_tool_calls("<tool_call>not json</tool_call>", ToolCallFormat::Qwen));
  // Cut by max_tokens inside a second call: the complete first one.
  const auto cut = parse_tool_calls("<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"argu",
                                    ToolCallFormat::Qwen);
  ASSERT_TRUE(cut);
  ASSERT_EQ(cut->size(), 1u);
  EXPECT_EQ((*cut)[0].name, "a");
  EXPECT_FALSE(parse_tool_calls("<tool_call>\n{\"name\": \"b\", \"argu", ToolCallFormat::Qwen)) << "no complete call";
}

TEST(ToolCalls, MistralList) {
  const auto calls = parse_tool_calls(R"([TOOL_CALLS] [{"name": "add", "arguments": {"a": 1, "b": 2}}])", ToolCallFormat::Mistral);
  ASSERT_TRUE(calls);
  EXPECT_EQ((*calls)[0].name, "add");
  EXPECT_EQ((*calls)[0].arguments, R"({"a":1,"b":2})");
  EXPECT_FALSE(parse_tool_calls(R"([{"name": "add"}])", ToolCallFormat::Mistral)) << "no marker, no call";
}

TEST(ToolCalls, Llama31Json) {
  auto calls = parse_tool_calls(R"({"name": "search", "parameters": {"q": "a } b"}})", ToolCallFormat::Llama31);
  ASSERT_TRUE(calls);
  EXPECT_EQ((*calls)[0].arguments, R"({"q":"a } b"})");
  calls = parse_tool_calls(R"(<|python_tag|>{"name": "a", "parameters": {}}; {"name": "b", "parameters": {"x": 1}})", ToolCallFormat::Llama31);
  ASSERT_TRUE(calls);
  EXPECT_EQ(calls->size(), 2u);
  EXPECT_FALSE(parse_tool_calls(R"({"answer": 42})", ToolCallFormat::Llama31)) << "JSON that is not a call is text";
}

TEST(ToolCalls, StreamingHoldsBackOnlyWhatMayBeACall) {
  EXPECT_TRUE(may_become_tool_call("", ToolCallFormat::Qwen));
  EXPECT_TRUE(may_become_tool_call("<tool", ToolCallFormat::Qwen));
  EXPECT_TRUE(may_become_tool_call("<tool_call>{\"na", ToolCallFormat::Qwen));
  EXPECT_FALSE(may_become_tool_call("Hello", ToolCallFormat::Qwen));
  EXPECT_TRUE(may_become_tool_call("[TOOL", ToolCallFormat::Mistral));
  EXPECT_FALSE(may_become_tool_call("Sure", ToolCallFormat::Mistral));
  EXPECT_TRUE(may_become_tool_call(" {\"name\"", ToolCallFormat::Llama31));
  EXPECT_FALSE(may_become_tool_call("I think", ToolCallFormat::Llama31));
  EXPECT_FALSE(may_become_tool_call("", ToolCallFormat::None));
}

// --allow-paths DIR…: a model directory named by a request must lie inside one of the
// directories, after every symlink is resolved; anything else is refused (nullopt: the
// registry then answers as for a missing id).
TEST(AllowedModelDirs, OnlyDirectoriesInsideTheRootsAfterSymlinks) {
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("mlxcpp_allow_" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base / "models" / "tiny");
  fs::create_directories(base / "outside" / "secret");
  fs::create_directory_symlink(base / "outside", base / "models" / "escape");
  const std::vector<fs::path> roots = {base / "models"};
  EXPECT_EQ(allowed_model_dir("tiny", roots), fs::canonical(base / "models" / "tiny"));
  EXPECT_EQ(allowed_model_dir((base / "models" / "tiny").string(), roots), fs::canonical(base / "models" / "tiny"));
  EXPECT_FALSE(allowed_model_dir("escape/secret", roots)) << "a symlink leads out of the root";
  EXPECT_FALSE(allowed_model_dir("../outside/secret", roots));
  EXPECT_FALSE(allowed_model_dir((base / "outside" / "secret").string(), roots));
  EXPECT_FALSE(allowed_model_dir("/etc", roots));
  EXPECT_FALSE(allowed_model_dir("missing", roots));
  EXPECT_FALSE(allowed_model_dir("tiny", {})) << "no roots: no paths at all";
  fs::remove_all(base);
}

}  // namespace
}  // namespace mlxcpp
