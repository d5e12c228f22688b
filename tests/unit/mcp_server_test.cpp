// The MCP server's protocol handling (version negotiation, errors, one JSON message per
// line on stdout) and the generate tool's cancellation, below the SDK client tests.
#include <gtest/gtest.h>

#include <set>

#include <nlohmann/json.hpp>
#include <sstream>

#include "server/mcp_server.h"
#include "server/mcp_tools.h"
#include "test_support.h"

namespace mlxcpp {
namespace {

std::vector<nlohmann::json> exchange(const std::vector<std::string>& lines) {
  std::istringstream in([&] {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
  }());
  std::ostringstream out;
  EXPECT_EQ(run_mcp_server(in, out, {}), 0);
  std::vector<nlohmann::json> msgs;
  std::istringstream lines_out(out.str());
  for (std::string line; std::getline(lines_out, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "stdout must carry only JSON-RPC messages: " << line;
    msgs.push_back(j);
  }
  return msgs;
}

std::string init(const std::string& version) {
  return R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":")" + version +
         R"(","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})";
}

TEST(McpServer, NegotiatesTheProtocolRevision) {
  EXPECT_EQ(exchange({init("2024-11-05")}).at(0)["result"]["protocolVersion"], "2024-11-05");
  EXPECT_EQ(exchange({init("2025-06-18")}).at(0)["result"]["protocolVersion"], "2025-06-18");
  EXPECT_EQ(exchange({init("1999-01-01")}).at(0)["result"]["protocolVersion"], "2025-11-25");
}

TEST(McpServer, ErrorsFollowJsonRpc) {
  const auto msgs = exchange({"{not json", R"({"jsonrpc":"2.0","id":7,"method":"resources/list"})",
                              R"({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{}})",
                              R"({"jsonrpc":"1.0","id":9,"method":"ping"})", R"({"jsonrpc":"2.0","id":10,"method":"ping"})",
                              R"({"jsonrpc":"2.0","method":"notifications/initialized"})"});
  ASSERT_EQ(msgs.size(), 5u) << "the notification gets no answer";
  EXPECT_EQ(msgs[0]["error"]["code"], -32700);
  EXPECT_EQ(msgs[1]["error"]["code"], -32601);
  EXPECT_EQ(msgs[1]["id"], 7);
  EXPECT_EQ(msgs[2]["error"]["code"], -32602);
  EXPECT_EQ(msgs[3]["error"]["code"], -32600);
  EXPECT_TRUE(msgs[4]["result"].empty());
}

// Requests sent and stdin closed at once: every one is answered before the server exits
// (tool calls run on their own threads; the end of the input must not drop them).
TEST(McpServer, AnswersEveryRequestBeforeExitingAtTheEndOfInput) {
  ::setenv("MLXCPP_BUNDLED_MODEL", test::bundled_model().c_str(), 1);
  ::setenv("HF_HUB_CACHE", "/nonexistent-mlxcpp-test-cache", 1);
  std::vector<std::string> lines = {init("2025-06-18")};
  for (int id = 2; id <= 5; ++id)
    lines.push_back(R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
                    R"(,"method":"tools/call","params":{"name":"generate","arguments":{"prompt":"The best way to","max_tokens":8,"temperature":0.7,"seed":1}}})");
  const auto msgs = exchange(lines);
  std::set<int> answered;
  for (const auto& m : msgs)
    if (m.contains("id") && m.contains("result")) answered.insert(m["id"].get<int>());
  EXPECT_EQ(answered, (std::set<int>{1, 2, 3, 4, 5}));
  for (const auto& m : msgs)
    if (m.contains("id") && m["id"] == 2) {
      EXPECT_EQ(m["result"]["structuredContent"]["temperature"], 0.7);  // as given, not 0.699999988
    }
}

TEST(McpTools, CancelledGenerateStopsEarly) {
  ::setenv("MLXCPP_BUNDLED_MODEL", test::bundled_model().c_str(), 1);
  ::setenv("HF_HUB_CACHE", "/nonexistent-mlxcpp-test-cache", 1);
  McpTools tools(2, Device::Cpu);
  const std::atomic<bool> cancelled{true};
  const ToolResult r = tools.call("generate", {{"prompt", "Go on"}, {"max_tokens", 4000}, {"temperature", 1.0}},
                                  [](double, double, const std::string&) {}, cancelled);
  EXPECT_EQ(r.structured["finish_reason"], "cancelled");
  EXPECT_LT(r.structured["usage"]["completion_tokens"].get<int>(), 4000);
  const std::atomic<bool> live{false};
  const ToolResult ok = tools.call("generate", {{"prompt", "Hi"}, {"max_tokens", 3}, {"temperature", 0}},
                                   [](double, double, const std::string&) {}, live);
  EXPECT_EQ(ok.structured["usage"]["completion_tokens"], 3);
  ::unsetenv("HF_HUB_CACHE");
}

}  // namespace
}  // namespace mlxcpp
