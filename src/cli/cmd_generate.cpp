#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "cli/length_options.h"
#include "cli/progress.h"
#include "cli/sampling_options.h"
#include "cli/validators.h"
#include "hub/hf_cache.h"
#include "runtime/constraints.h"
#include "runtime/engine.h"
#include "runtime/generator.h"
#include "runtime/perplexity.h"
#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"
#include "util/files.h"

namespace mlxcpp::cli {
namespace {

// mlx-lm's generate unescapes the literal sequences \n and \t in --prompt.
std::string unescape_prompt(const std::string& p) {
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\' && i + 1 < p.size() && (p[i + 1] == 'n' || p[i + 1] == 't')) {
      out += p[i + 1] == 'n' ? '\n' : '\t';
      ++i;
    } else {
      out += p[i];
    }
  }
  return out;
}

}  // namespace

void register_generate(CLI::App& app) {
  struct Opts {
    std::string model, prompt, system, json_schema, grammar;
    int max_tokens = 256;
    int64_t max_kv_size = 0;
    EngineFlags engine;
    SamplingOptions sampling;
    std::vector<std::string> stop;
    bool chat = false, raw = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt, streaming it to stdout");
  cmd->add_option("-m,--model", o->model, "Model directory or repo id (default: the catalogue default if cached, else bundled)");
  cmd->add_option("-p,--prompt", o->prompt, "Prompt ('-' reads stdin; \\n and \\t are unescaped)")->required();
  // -n (llama.cpp), --system-prompt, --ignore-chat-template and --max-kv-size (mlx-lm) are
  // the names people bring from the peers.
  cmd->add_option("-n,--max-tokens", o->max_tokens, "Maximum tokens to generate")
      ->check(at_least(0))
      ->capture_default_str();
  add_max_kv_size(cmd, o->max_kv_size);
  o->sampling.add_to(cmd);
  cmd->add_option("--stop", o->stop, "Stop string (repeatable), matched on the text");
  auto* chat = cmd->add_flag("--chat", o->chat, "Apply the model's chat template");
  auto* raw = cmd->add_flag("--raw,--ignore-chat-template", o->raw, "Use the prompt as is, with the tokenizer's special tokens");
  chat->excludes(raw);
  cmd->add_option("--system,--system-prompt", o->system, "System prompt (with --chat)");
  cmd->add_flag("--json", o->json, "Print one JSON object at the end instead of streaming");
  auto* schema = cmd->add_option("--json-schema", o->json_schema,
                                 "Constrain the output to JSON valid against this schema (a file, or the schema itself)");
  cmd->add_option("--grammar", o->grammar, "Constrain the output to a GBNF grammar (a file)")
      ->check(CLI::ExistingFile)
      ->excludes(schema);
  o->engine.add_to(cmd);
  cmd->callback([o] {
    const auto dir = find_model(o->model);
    const auto tok = Tokenizer::load(dir);
    auto model = o->engine.load(dir);
    std::string prompt = o->prompt;
    if (prompt == "-") prompt.assign(std::istreambuf_iterator<char>(std::cin), {});
    else prompt = unescape_prompt(prompt);
    GenerationRequest req;
    // mlx-lm: the chat template is used when the model has one, unless the prompt is raw;
    // the rendered text is then encoded without adding special tokens again.
    const bool chat = o->chat || (!o->raw && tok->chat_template() != nullptr);
    if (o->chat && !tok->chat_template()) fail("{}: --chat given but the model has no chat template", dir.string());
    if (!o->system.empty() && !chat) fail("--system needs a chat template (drop --raw)");
    if (chat) {
      nlohmann::ordered_json messages = nlohmann::ordered_json::array();
      if (!o->system.empty()) messages.push_back({{"role", "system"}, {"content", o->system}});
      messages.push_back({{"role", "user"}, {"content", prompt}});
      nlohmann::ordered_json extra = nlohmann::ordered_json::object();
      // mlx-lm injects enable_thinking when the vocabulary has <think> tokens.
      if (tok->token_to_id("<think>") && tok->token_to_id("</think>")) extra["enable_thinking"] = true;
      const ChatTemplate t = ChatTemplate::for_tokenizer(*tok, dir.string());
      req.prompt = tok->encode(t.render(messages, nullptr, true, extra), false);
    } else {
      req.prompt = tok->encode(prompt, true);
    }
    req.max_tokens = capped_max_tokens(o->max_tokens, o->max_kv_size, req.prompt.size());
    req.sampling = o->sampling.with_seed(o->sampling.seed);
    req.stop = o->stop;
    if (!o->json_schema.empty() || !o->grammar.empty()) {
      ConstraintCompiler constraints(model->config(), tok);
      if (!o->grammar.empty()) {
        req.constraint = constraints.gbnf(read_text_file(o->grammar));
      } else {
        const bool inline_schema = o->json_schema.find_first_of("{") != std::string::npos;
        const std::string text = inline_schema ? o->json_schema : read_text_file(o->json_schema);
        const auto parsed = nlohmann::ordered_json::parse(text, nullptr, false);
        if (parsed.is_discarded()) fail("--json-schema {}: not valid JSON", inline_schema ? "(inline)" : o->json_schema);
        req.constraint = constraints.json_schema(parsed, "--json-schema");
      }
    }
    auto stream = [&](const std::string& s) {
      if (o->json) return;
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
    };
    const GenerationResult r = generate(*model, *tok, req, stream);
    if (o->json) {
      nlohmann::json j = {{"text", r.text},
                          {"ids", r.ids},
                          {"finish_reason", r.finish_reason},
                          {"prompt_tokens", r.prompt_tokens},
                          {"generation_tokens", r.generation_tokens},
                          {"prompt_tps", r.prompt_tps},
                          {"generation_tps", r.generation_tps},
                          {"peak_memory_bytes", r.peak_memory_bytes}};
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      // The text's end, flushed before the statistics go to stderr: where both streams reach
      // one terminal or file, the statistics start a line of their own.
      std::printf("\n");
      std::fflush(stdout);
      std::fprintf(stderr, "prompt: %lld tokens, %.1f tokens/s | generation: %lld tokens, %.1f tokens/s | finish: %s\n",
                   (long long)r.prompt_tokens, r.prompt_tps, (long long)r.generation_tokens, r.generation_tps,
                   r.finish_reason.c_str());
    }
  });
}

void register_perplexity(CLI::App& app) {
  struct Opts {
    std::string model, file;
    int64_t ctx = 512;
    EngineFlags engine;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("perplexity", "Perplexity of a text file (judges a quantization)");
  cmd->add_option("-m,--model", o->model, "Model directory or repo id (default: bundled)");
  cmd->add_option("-f,--file", o->file, "Text file")->required()->check(CLI::ExistingFile);
  auto* ctx = cmd->add_option("--ctx", o->ctx, "Window length in tokens (default: 512, or the model's context if shorter)");
  o->engine.add_to(cmd);
  cmd->add_flag("--json", o->json, "Print {\"perplexity\", \"mean_nll\", \"scored_tokens\"}");
  cmd->callback([o, ctx] {
    const auto dir = locate_model_or_bundled(o->model);
    const auto tok = Tokenizer::load(dir);
    auto model = o->engine.load(dir);
    // The default window, not a given one, shrinks to a model of a shorter context.
    const int64_t context = model->config().context_length();
    if (ctx->count() == 0 && o->ctx > context) {
      std::fprintf(stderr, "perplexity: the model's context is %lld tokens: windows of %lld (--ctx to choose)\n",
                   (long long)context, (long long)context);
      o->ctx = context;
    }
    std::ifstream in(o->file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const auto progress = count_progress_printer("perplexity: windows");
    const PerplexityResult r = perplexity(*model, *tok, ss.str(), o->ctx, [&](int64_t done, int64_t total) {
      if (progress) progress(size_t(done), size_t(total));
    });
    if (o->json)
      std::printf("%s\n", nlohmann::json{{"perplexity", r.perplexity}, {"mean_nll", r.mean_nll}, {"scored_tokens", r.scored_tokens}}.dump().c_str());
    else
      std::printf("perplexity %.4f (mean NLL %.6f over %lld scored tokens, ctx %lld)\n", r.perplexity, r.mean_nll,
                  (long long)r.scored_tokens, (long long)o->ctx);
  });
}

}  // namespace mlxcpp::cli
