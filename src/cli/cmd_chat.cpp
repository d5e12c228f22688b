// `chat`: an interactive multi-turn conversation. Each turn renders the whole conversation
// through the chat template and reuses the KV cache of the previous turn for the prefix
// they share, so a turn costs only its new tokens. Reads one user message per line (a
// terminal or a pipe); "/reset" starts over, "/exit" or end of input quits.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "cli/length_options.h"
#include "cli/sampling_options.h"
#include "cli/validators.h"
#include "runtime/engine.h"
#include "runtime/generator.h"
#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace mlxcpp::cli {

void register_chat(CLI::App& app) {
  struct Opts {
    std::string model, system;
    int max_tokens = 512;
    int64_t max_kv_size = 0;
    EngineFlags engine;
    SamplingOptions sampling;
  };
  auto o = std::make_shared<Opts>();
  o->sampling.params.temperature = 0.7f;
  auto* cmd = app.add_subcommand("chat", "Interactive multi-turn chat that reuses the KV cache between turns");
  cmd->add_option("-m,--model", o->model, "Model directory or repo id (default: the catalogue default if cached, else bundled)");
  cmd->add_option("--system,--system-prompt", o->system, "System prompt");
  cmd->add_option("-n,--max-tokens", o->max_tokens, "Most tokens per answer")->check(at_least(0))->capture_default_str();
  add_max_kv_size(cmd, o->max_kv_size);
  o->sampling.add_to(cmd);
  o->engine.add_to(cmd);
  cmd->callback([o] {
    const auto dir = find_model(o->model);
    const auto tok = Tokenizer::load(dir);
    if (!tok->chat_template()) fail("{}: chat needs a model with a chat template", dir.string());
    auto model = o->engine.load(dir);
    const ChatTemplate tmpl = ChatTemplate::for_tokenizer(*tok, dir.string());
    nlohmann::ordered_json extra = nlohmann::ordered_json::object();
    if (tok->token_to_id("<think>") && tok->token_to_id("</think>")) extra["enable_thinking"] = true;
    const bool tty = ::isatty(STDIN_FILENO) != 0;
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    const auto reset = [&] {
      messages = nlohmann::ordered_json::array();
      if (!o->system.empty()) messages.push_back({{"role", "system"}, {"content", o->system}});
    };
    reset();
    std::optional<CachedPrefix> cache;
    if (tty) std::fprintf(stderr, "mlxcpp chat: %s (/reset, /exit)\n", dir.c_str());
    std::string line;
    for (int turn = 0;; ++turn) {
      if (tty) std::fprintf(stderr, "> "), std::fflush(stderr);
      if (!std::getline(std::cin, line) || line == "/exit") break;
      if (line == "/reset") {
        reset();
        cache.reset();
        continue;
      }
      if (line.empty()) continue;
      messages.push_back({{"role", "user"}, {"content", line}});
      GenerationRequest req;
      req.prompt = tok->encode(tmpl.render(messages, nullptr, true, extra), false);
      req.max_tokens = capped_max_tokens(o->max_tokens, o->max_kv_size, req.prompt.size());
      req.sampling = o->sampling.with_seed(o->sampling.seed ? std::optional(*o->sampling.seed + uint64_t(turn)) : std::nullopt);
      if (int64_t(req.prompt.size()) >= model->config().context_length())
        fail("the conversation has {} tokens, more than the model's context of {}; /reset to start over",
             req.prompt.size(), model->config().context_length());
      GenerationStream stream(*model, *tok, req, [](const std::string& t) {
        std::fwrite(t.data(), 1, t.size(), stdout);
        std::fflush(stdout);
      }, std::move(cache));
      while (stream.step()) {
      }
      const GenerationResult& r = stream.result();
      std::printf("\n");
      std::fflush(stdout);
      std::fprintf(stderr, "[prompt %lld tokens (%lld reused from the cache), %lld generated, %.1f tokens/s, %s]\n",
                   (long long)r.prompt_tokens, (long long)r.cached_prompt_tokens, (long long)r.generation_tokens,
                   r.generation_tps, r.finish_reason.c_str());
      messages.push_back({{"role", "assistant"}, {"content", r.text}});
      cache = stream.take_cache();
    }
  });
}

}  // namespace mlxcpp::cli
