#include <cstdio>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace mlxcpp::cli {

void register_tokenize(CLI::App& app) {
  struct Opts {
    std::string model, text;
    bool no_special = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("tokenize", "Encode text to token ids");
  cmd->add_option("-m,--model", o->model, "Model (or tokenizer-only) directory, or repo id (default: bundled)");
  cmd->add_option("text", o->text, "Text to encode, or '-' for stdin")->required();
  cmd->add_flag("--no-special", o->no_special, "Do not add special tokens (BOS, ...)");
  cmd->add_flag("--json", o->json, "Print {\"ids\": [...], \"tokens\": [...]}");
  cmd->callback([o] {
    const auto tok = Tokenizer::load(locate_model_or_bundled(o->model));
    std::string text = o->text;
    if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), {});
    const auto ids = tok->encode(text, !o->no_special);
    if (o->json) {
      nlohmann::json tokens = nlohmann::json::array();
      for (int32_t id : ids) tokens.push_back(tok->id_to_token(id).value_or(""));
      // Tokens can hold bytes that are not UTF-8 (e.g. partial byte-level pieces): replace them.
      std::printf("%s\n", nlohmann::json{{"ids", ids}, {"tokens", tokens}}.dump(-1, ' ', false,
                                                                                  nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::string line;
      for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
      std::printf("%s\n", line.c_str());
    }
  });
}

void register_detokenize(CLI::App& app) {
  struct Opts {
    std::string model;
    std::vector<int64_t> ids;
    bool skip_special = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("detokenize", "Decode token ids to text");
  cmd->add_option("-m,--model", o->model, "Model (or tokenizer-only) directory, or repo id (default: bundled)");
  cmd->add_option("ids", o->ids, "Token ids")->required();
  cmd->add_flag("--skip-special", o->skip_special, "Leave special tokens out of the text");
  cmd->callback([o] {
    const auto tok = Tokenizer::load(locate_model_or_bundled(o->model));
    std::vector<int32_t> ids;
    for (int64_t id : o->ids) {
      if (id < 0 || id >= int64_t(tok->vocab_size())) fail("token id {} is outside the vocabulary (0..{})", id, tok->vocab_size() - 1);
      ids.push_back(int32_t(id));
    }
    const std::string text = tok->decode(ids, o->skip_special);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
  });
}

}  // namespace mlxcpp::cli
