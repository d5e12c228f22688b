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
#include "cli/line_reader.h"
#include "cli/sampling_options.h"
#include "cli/validators.h"
#include "runtime/engine.h"
#include "runtime/generator.h"
#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/files.h"

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
    std::optional<CachedPrefix> cache;
    const auto reset = [&] {
      messages = nlohmann::ordered_json::array();
      if (!o->system.empty()) messages.push_back({{"role", "system"}, {"content", o->system}});
      cache.reset();
    };
    reset();
    if (tty) std::fprintf(stderr, "mlxcpp chat: %s (/help for commands)\n", dir.c_str());
    LineReader reader(tty);
    bool interrupted_at_prompt = false;
    std::string line;
    for (int turn = 0;; ++turn) {
      const LineReader::Status status = reader.read(line);
      if (status == LineReader::Status::End) {
        if (tty) std::fputc('\n', stderr);  // Ctrl-D: leave the shell's prompt on a line of its own
        break;
      }
      if (status == LineReader::Status::Interrupted) {
        if (interrupted_at_prompt) break;
        interrupted_at_prompt = true;
        std::fprintf(stderr, "\n(Ctrl-C again, Ctrl-D or /exit to leave)\n");
        continue;
      }
      interrupted_at_prompt = false;
      if (line == "/exit" || line == "/quit") break;
      if (line == "/help") {
        std::fprintf(stderr,
                     "  /reset      forget the conversation (the system prompt stays)\n"
                     "  /save FILE  write the conversation as JSON messages\n"
                     "  /load FILE  continue a saved conversation\n"
                     "  /exit       leave (also Ctrl-D, or Ctrl-C twice)\n"
                     "  a line ending in \\ goes on in the next; Ctrl-C stops an answer\n");
        continue;
      }
      if (line == "/reset") {
        reset();
        std::fprintf(stderr, "(conversation cleared)\n");
        continue;
      }
      if (line.starts_with("/save ") || line.starts_with("/load ")) {
        const std::string file = line.substr(6);
        try {
          if (line[1] == 's') {
            write_file_atomic(file, messages.dump(2) + "\n");
            std::fprintf(stderr, "(saved %zu messages to %s)\n", messages.size(), file.c_str());
          } else {
            nlohmann::ordered_json loaded = nlohmann::ordered_json::parse(read_text_file(file));
            if (!loaded.is_array()) fail("{}: not a list of messages", file);
            for (const auto& m : loaded)
              if (!m.is_object() || !m.contains("role") || !m.contains("content") || !m["role"].is_string() ||
                  !m["content"].is_string())
                fail("{}: each message needs a string 'role' and 'content'", file);
            messages = std::move(loaded);
            cache.reset();
            std::fprintf(stderr, "(loaded %zu messages from %s)\n", messages.size(), file.c_str());
          }
        } catch (const nlohmann::json::exception& e) {
          std::fprintf(stderr, "mlxcpp: %s: invalid JSON: %s\n", file.c_str(), json_error_text(e).c_str());
        } catch (const Error& e) {
          std::fprintf(stderr, "mlxcpp: %s\n", e.what());
        }
        continue;
      }
      if (line.empty()) continue;
      messages.push_back({{"role", "user"}, {"content", line}});
      GenerationRequest req;
      req.prompt = tok->encode(tmpl.render(messages, nullptr, true, extra), false);
      req.max_tokens = capped_max_tokens(o->max_tokens, o->max_kv_size, req.prompt.size());
      req.sampling = o->sampling.with_seed(o->sampling.seed ? std::optional(*o->sampling.seed + uint64_t(turn)) : std::nullopt);
      if (int64_t(req.prompt.size()) >= model->config().context_length()) {
        messages.erase(messages.end() - 1);
        std::fprintf(stderr, "mlxcpp: the conversation has %zu tokens, more than the model's context of %lld; /reset to start over\n",
                     req.prompt.size(), (long long)model->config().context_length());
        continue;
      }
      // Ctrl-C during the answer stops it; the conversation keeps what was said.
      LineReader::interrupted().store(false);
      req.cancel = &LineReader::interrupted();
      GenerationStream stream(*model, *tok, req, [](const std::string& t) {
        std::fwrite(t.data(), 1, t.size(), stdout);
        std::fflush(stdout);
      }, std::move(cache));
      while (stream.step()) {
      }
      LineReader::interrupted().store(false);
      const GenerationResult& r = stream.result();
      std::printf("\n");
      std::fflush(stdout);
      std::fprintf(stderr, "[prompt %lld tokens (%lld reused from the cache), %lld generated, %.1f tokens/s, %s]\n",
                   (long long)r.prompt_tokens, (long long)r.cached_prompt_tokens, (long long)r.generation_tokens,
                   r.generation_tps, r.finish_reason == "cancelled" ? "stopped" : r.finish_reason.c_str());
      messages.push_back({{"role", "assistant"}, {"content", r.text}});
      cache = stream.take_cache();
    }
  });
}

}  // namespace mlxcpp::cli
