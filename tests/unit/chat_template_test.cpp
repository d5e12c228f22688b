// Chat templates rendered by our Jinja interpreter against Python's jinja2 (goldens by
// tests/tools/make_template_goldens.py): byte-identical output, the template's own
// raise_exception surfacing as TemplateRaised, and failures where jinja2 fails.
#include "template/chat_template.h"

#include <gtest/gtest.h>

#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "template/template_error.h"
#include "test_support.h"
#include "util/files.h"

namespace mlxcpp {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

TEST(ChatTemplate, MatchesJinja2OnEveryTemplateAndConversation) {
  const fs::path dir = test::data_dir() / "chat";
  const json index = read_json_file(dir / "templates" / "index.json");
  const json goldens = read_json_file(dir / "goldens.json");
  std::map<std::string, nlohmann::ordered_json> conversations;
  for (const auto& c : nlohmann::ordered_json::parse(read_text_file(dir / "conversations.json"))) conversations[c["name"]] = c;
  std::map<std::string, std::unique_ptr<ChatTemplate>> templates;
  for (const auto& [name, info] : index.items())
    templates[name] = std::make_unique<ChatTemplate>(read_text_file(dir / "templates" / (name + ".jinja")), info["special_tokens"]);
  // The goldens' strftime_now gives 2026-11-25 (the generator's fixed day); ours, today.
  char today[16];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  std::strftime(today, sizeof today, "%Y-%m-%d", &tm);
  auto as_of_today = [&](std::string s) {
    for (size_t at = 0; (at = s.find("2026-11-25", at)) != std::string::npos; at += 10) s.replace(at, 10, today);
    return s;
  };
  int checked = 0, bad = 0;
  for (const auto& g : goldens["cases"]) {
    const std::string label = g["template"].get<std::string>() + " x " + g["conversation"].get<std::string>() +
                              (g["add_generation_prompt"].get<bool>() ? " +gen" : "");
    const nlohmann::ordered_json& conv = conversations.at(g["conversation"]);
    const nlohmann::ordered_json tools = conv.contains("tools") ? conv["tools"] : nlohmann::ordered_json(nullptr);
    nlohmann::ordered_json extra = {{"date_string", "25 Nov 2026"}};  // as the golden generator
    if (conv.contains("extra"))
      for (const auto& [k, v] : conv["extra"].items()) extra[k] = v;
    const ChatTemplate& t = *templates.at(g["template"]);
    ++checked;
    try {
      const std::string out = t.render(conv["messages"], tools, g["add_generation_prompt"], extra);
      if (!g.contains("output")) {
        if (++bad <= 8) ADD_FAILURE() << label << ": rendered, but jinja2 failed with " << g.dump();
      } else if (const std::string want = as_of_today(g["output"]); out != want) {
        if (++bad <= 8) ADD_FAILURE() << label << ":\n--- ours\n" << out << "\n--- jinja2\n" << want;
      }
    } catch (const jinja::TemplateRaised& e) {
      if (!g.contains("raises") || std::string(e.what()).find(g["raises"].get<std::string>()) == std::string::npos)
        if (++bad <= 8) ADD_FAILURE() << label << ": raised " << e.what() << "; jinja2: " << g.dump().substr(0, 300);
    } catch (const Error& e) {
      if (!g.contains("error") && ++bad <= 8) ADD_FAILURE() << label << ": error " << e.what();
    }
  }
  EXPECT_EQ(bad, 0) << "of " << checked;
  EXPECT_GE(checked, 400);
}

TEST(ChatTemplate, UnsupportedConstructsNameLineAndColumn) {
  auto error_of = [](const std::string& src) -> std::string {
    try {
      ChatTemplate t(src, json::object());
      t.render(nlohmann::ordered_json::array(), nullptr, false);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of("line one\n{% include 'x' %}").find("line 2, column 4: unsupported statement 'include'"), std::string::npos)
      << error_of("line one\n{% include 'x' %}");
  EXPECT_NE(error_of("{{ x | nosuchfilter }}").find("no filter named 'nosuchfilter'"), std::string::npos);
  EXPECT_NE(error_of("{% if true %}unclosed").find("missing {% endif %}"), std::string::npos);
  EXPECT_NE(error_of("{{ 'abc' ").find("unclosed tag"), std::string::npos);
  EXPECT_NE(error_of("{{ raise_exception('bad roles') }}").find("the chat template raised an error: bad roles"), std::string::npos);
  EXPECT_NE(error_of("{{ undefined_thing.attr }}").find("'undefined_thing' is undefined"), std::string::npos);
  // Found by fuzzing: an out-of-range literal, overflow, and runaway output are errors.
  EXPECT_NE(error_of("{{ 99999999999999999999999 }}").find("out of range"), std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(500, '[') + " }}").find("nested deeper"), std::string::npos);
  EXPECT_NE(error_of("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}").find("steps"), std::string::npos);
  EXPECT_NE(error_of("x{%- raw%}endif %}").find("without {% endraw %}"), std::string::npos);
  std::string deep_ifs;
  for (int i = 0; i < 100; ++i) deep_ifs += "{% if true %}";
  EXPECT_NE(error_of(deep_ifs).find("nested deeper than 64"), std::string::npos);
  EXPECT_NE(error_of("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}").find("nested too deeply"), std::string::npos);
  EXPECT_NE(error_of("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}")
                .find("nested deeper than 128"), std::string::npos);
  EXPECT_NE(error_of("{{ 9223372036854775807 + 1 }}").find("integer overflow"), std::string::npos);
  EXPECT_NE(error_of("{{ 'x' * 100000000000 }}").find("would pass the 64 MiB bound on strings"), std::string::npos);
  EXPECT_NE(error_of("{% for i in range(1000000) %}{{ 'x' * 1000000 }}{% endfor %}").find("output passes the 64 MiB bound"),
            std::string::npos);
  // Intermediate strings too (found by #19's hostile testing: doubling a string reached
  // 7.3 GB and an unnamed bad_alloc), by concatenation, +, join and replace alike.
  for (const char* doubling : {"{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                               "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
                               "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = [ns.s, ns.s] | join %}{% endfor %}",
                               "{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s.replace('x', 'xx') %}{% endfor %}"})
    EXPECT_NE(error_of(doubling).find("would pass the 64 MiB bound on strings a template builds"), std::string::npos)
        << doubling << ": " << error_of(doubling);
  try {
    ChatTemplate("{{ undefined_thing.attr }}", json::object(), "/models/m chat template")
        .render(nlohmann::ordered_json::array(), nullptr, false);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/models/m chat template: template line 1"), std::string::npos) << e.what();
  }
}

TEST(ChatTemplate, StrftimeNowFormatsTheCurrentDate) {
  ChatTemplate t("{{ strftime_now('%Y') }}", json::object());
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  EXPECT_EQ(t.render(nlohmann::ordered_json::array(), nullptr, false), std::to_string(1900 + tm.tm_year));
}

TEST(ChatTemplate, RawBlocksAsJinja2) {
  // Expected strings from Python's jinja2 with trim_blocks and lstrip_blocks.
  ChatTemplate t("{% raw %}a{{b}}{%- endraw -%} c|{% raw %}\nx {% endraw %}\ny", json::object());
  EXPECT_EQ(t.render(nlohmann::ordered_json::array(), nullptr, false), "a{{b}}c|\nx y");
}

TEST(ChatTemplate, PythonFormattingOfValues) {
  ChatTemplate t("{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ [1, 'a', none, true] }} {{ {'k': \"it's\"} }} {{ 7 // 2 }} {{ -7 % 3 }} {{ 'x' * 3 }}"
                 "{{ [3,1,2]|sort|join(',') }} {{ 'a,b'.split(',') }} {{ 'Hi'[::-1] }} {{ {'b': 1, 'a': [1.5, {'c': none}]}|tojson }}",
                 json::object());
  EXPECT_EQ(t.render(nlohmann::ordered_json::array(), nullptr, false),
            "1.0 0.30000000000000004 1e+20 [1, 'a', None, True] {'k': \"it's\"} 3 2 xxx1,2,3 ['a', 'b'] iH "
            "{\"b\": 1, \"a\": [1.5, {\"c\": null}]}");
}

}  // namespace
}  // namespace mlxcpp
