#include "tokenizer/tokenizer.h"

#include <malloc.h>

#include <nlohmann/json.hpp>

#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/post_processor.h"
#include "tokenizer/pre_tokenizer.h"
#include "util/error.h"
#include "util/files.h"
#include "util/gzip_file.h"

namespace mlxcpp {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string token_content(const json& v) {  // "tok" or {"content": "tok", ...}
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

}  // namespace

Tokenizer::Tokenizer(const json& j, const std::string& label) {
  if (!j.is_object()) fail("{}: not a JSON object", label);
  if (!j.contains("model") || !j["model"].is_object()) fail("{}: missing 'model'", label);
  const std::string type = j["model"].value("type", std::string("BPE"));
  if (type != "BPE")
    fail("{}: model type '{}' is not supported (every catalogue model uses BPE; Unigram and WordPiece are not "
         "implemented)", label, type);
  model_ = std::make_unique<BpeModel>(j["model"], label + ": model");
  added_ = AddedVocabulary(j.contains("added_tokens") ? j["added_tokens"] : json(), label + ": added_tokens");
  auto get = [&](const char* k) { return j.contains(k) ? j[k] : json(); };
  normalizer_ = make_normalizer(get("normalizer"), label + ": normalizer");
  pre_tokenizer_ = make_pre_tokenizer(get("pre_tokenizer"), label + ": pre_tokenizer");
  post_processor_ = make_post_processor(get("post_processor"), label + ": post_processor");
  decoder_ = make_decoder(get("decoder"), label + ": decoder");
}

Tokenizer::~Tokenizer() = default;

std::shared_ptr<const Tokenizer> Tokenizer::load(const fs::path& dir) {
  fs::path path = dir / "tokenizer.json";
  if (!fs::exists(path) && fs::exists(dir / "tokenizer.json.gz")) path = dir / "tokenizer.json.gz";
  if (!fs::is_directory(dir)) fail("{}: no such model directory", dir.string());
  if (!fs::exists(path)) fail("{}: no tokenizer.json", dir.string());
  std::shared_ptr<Tokenizer> t;
  {
    json j;
    try {
      j = json::parse(read_file_maybe_gzipped(path));
    } catch (const json::exception& e) {
      fail("{}: invalid JSON: {}", path.string(), json_error_text(e));
    }
    try {
      t = std::make_shared<Tokenizer>(j, path.string());
    } catch (const json::exception& e) {  // a field of the wrong JSON type somewhere
      fail("{}: malformed tokenizer: {}", path.string(), json_error_text(e));
    }
  }
  t->read_config(dir);
  // The parsed document (several times the file: ~60 MB for Llama 3's) is gone; give its
  // pages back to the system now, or they stay resident under the model's weights.
  malloc_trim(0);
  return t;
}

void Tokenizer::read_config(const fs::path& dir) {
  const fs::path cfg_path = dir / "tokenizer_config.json";
  if (fs::exists(cfg_path)) {
    const json cfg = read_json_file(cfg_path);
    if (!cfg.is_object()) fail("{}: not a JSON object", cfg_path.string());
    if (cfg.contains("bos_token")) bos_id_ = token_to_id(token_content(cfg["bos_token"]));
    if (cfg.contains("eos_token")) eos_id_ = token_to_id(token_content(cfg["eos_token"]));
    if (cfg.contains("chat_template")) {
      const json& ct = cfg["chat_template"];
      if (ct.is_string()) {
        templates_.push_back({"default", ct.get<std::string>()});
      } else if (ct.is_array()) {
        for (const auto& t : ct) {
          if (!t.is_object() || !t.contains("name") || !t.contains("template") || !t["template"].is_string())
            fail("{}: chat_template list entries need 'name' and 'template'", cfg_path.string());
          templates_.push_back({t["name"].get<std::string>(), t["template"].get<std::string>()});
        }
      } else if (!ct.is_null()) {
        fail("{}: chat_template must be a string or a list of named templates", cfg_path.string());
      }
    }
  }
  // transformers >= 4.43 saves the template beside the config; it takes precedence.
  if (fs::exists(dir / "chat_template.jinja")) {
    const std::string src = read_text_file(dir / "chat_template.jinja");
    std::erase_if(templates_, [](const NamedTemplate& t) { return t.name == "default"; });
    templates_.insert(templates_.begin(), {"default", src});
  }
}

const std::string* Tokenizer::chat_template(std::string_view name) const {
  for (const auto& t : templates_)
    if (t.name == name) return &t.source;
  return nullptr;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  for (const auto& a : added_.tokens())
    if (a.content == token) return a.id;
  return model_->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* a = added_.find(id)) return a->content;
  if (const std::string* t = model_->id_to_token(id)) return *t;
  return std::nullopt;
}

size_t Tokenizer::vocab_size() const {
  size_t n = model_->vocab_size();
  for (const auto& a : added_.tokens()) n = std::max(n, size_t(a.id) + 1);
  return n;
}

bool Tokenizer::is_special(int32_t id) const {
  const AddedToken* a = added_.find(id);
  return a && a->special;
}

void Tokenizer::encode_plain(const std::string& text, bool at_start, std::vector<int32_t>& out) const {
  std::vector<Piece> pieces{{text, at_start}};
  if (pre_tokenizer_) pre_tokenizer_->apply(pieces);
  for (const auto& p : pieces) model_->encode(p.text, out);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<int32_t> ids;
  // 1) tokens matched on the raw text; 2) normalize the rest; 3) tokens matched on the
  // normalized text; 4) pre-tokenize and run the model on what remains.
  for (const Segment& raw : added_.split(text, /*normalized=*/false)) {
    if (raw.added_id >= 0) {
      ids.push_back(raw.added_id);
      continue;
    }
    const std::string norm = normalizer_ ? normalizer_->normalize(raw.text) : raw.text;
    for (const Segment& seg : added_.split(norm, /*normalized=*/true)) {
      if (seg.added_id >= 0) ids.push_back(seg.added_id);
      else encode_plain(seg.text, raw.offset == 0 && seg.offset == 0, ids);
    }
  }
  if (add_special_tokens && post_processor_) ids = post_processor_->apply(std::move(ids));
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (skip_special_tokens && is_special(id)) continue;
    if (auto t = id_to_token(id)) tokens.push_back(std::move(*t));
  }
  if (decoder_) decoder_->apply(tokens);
  std::string out;
  for (const auto& t : tokens) out += t;
  return out;
}

std::vector<std::string> Tokenizer::token_bytes() const {
  std::vector<std::string> out(vocab_size());
  for (size_t id = 0; id < out.size(); ++id) {
    if (is_special(int32_t(id))) continue;
    auto t = id_to_token(int32_t(id));
    if (!t) continue;
    std::vector<std::string> pieces{std::move(*t)};
    if (decoder_) decoder_->apply_raw(pieces);
    for (const auto& p : pieces) out[id] += p;
  }
  return out;
}

}  // namespace mlxcpp
