#include "tokenizer/decoder.h"

#include <nlohmann/json.hpp>

#include "tokenizer/byte_level.h"
#include "tokenizer/pattern.h"
#include "tokenizer/utf8.h"
#include "tokenizer/component.h"
#include "util/error.h"

namespace mlxcpp {
namespace {

using nlohmann::json;

class ByteLevelDecoder : public Decoder {
 public:
  void apply(std::vector<std::string>& tokens) const override {
    apply_raw(tokens);
    tokens.front() = utf8::make_valid(tokens.front());
  }
  void apply_raw(std::vector<std::string>& tokens) const override {
    // Each token's characters map back to bytes; a token with a character outside the
    // table (an added token, say) contributes its raw UTF-8, as HF does.
    std::string bytes;
    for (const auto& t : tokens) {
      std::string mapped;
      bool ok = true;
      for (size_t i = 0; i < t.size() && ok;) {
        const size_t n = utf8::char_len(t, i);
        const int b = byte_level::byte_for_char(utf8::decode_at(t, i, n));
        if (b < 0) ok = false;
        else mapped += char(b);
        i += n;
      }
      bytes += ok ? mapped : t;
    }
    tokens.assign(1, std::move(bytes));
  }
};

class Replace : public Decoder {
 public:
  Replace(const json& j, const std::string& where)
      : pattern_(j.at("pattern"), where), content_(j.value("content", std::string())) {}
  void apply(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::string out;
      size_t last = 0;
      for (const auto& [b, e] : pattern_.find_all(t)) {
        out.append(t, last, b - last);
        out += content_;
        last = e;
      }
      out.append(t, last);
      t = std::move(out);
    }
  }

 private:
  Pattern pattern_;
  std::string content_;
};

int parse_byte_token(const std::string& t) {  // "<0xAB>" → 171, else -1
  if (t.size() != 6 || !t.starts_with("<0x") || t[5] != '>') return -1;
  int v = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = t[size_t(i)];
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

class ByteFallback : public Decoder {
 public:
  void apply_raw(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens)
      if (const int b = parse_byte_token(t); b >= 0) t = std::string(1, char(b));
  }
  void apply(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;  // consecutive byte tokens
    size_t pending_count = 0;
    auto flush = [&] {
      if (pending_count == 0) return;
      if (utf8::is_valid(pending)) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending_count; ++i) out.push_back("\xef\xbf\xbd");  // one U+FFFD per byte, as HF
      }
      pending.clear();
      pending_count = 0;
    };
    for (auto& t : tokens) {
      const int b = parse_byte_token(t);
      if (b >= 0) {
        pending += char(b);
        ++pending_count;
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
};

class Fuse : public Decoder {
 public:
  void apply(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class Strip : public Decoder {
 public:
  Strip(std::string content, size_t start, size_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  void apply_raw(std::vector<std::string>&) const override {}
  void apply(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t i = 0; i < start_ && t.compare(b, content_.size(), content_) == 0 && b + content_.size() <= e; ++i)
        b += content_.size();
      for (size_t i = 0; i < stop_ && e >= b + content_.size() && t.compare(e - content_.size(), content_.size(), content_) == 0; ++i)
        e -= content_.size();
      t = t.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void apply(std::vector<std::string>& tokens) const override { replace(tokens, false); }
  void apply_raw(std::vector<std::string>& tokens) const override { replace(tokens, true); }

 private:
  void replace(std::vector<std::string>& tokens, bool raw) const {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& t = tokens[i];
      for (size_t p = 0; p < t.size();) {
        if (t.compare(p, replacement_.size(), replacement_) == 0) {
          out += ' ';
          p += replacement_.size();
        } else {
          out += t[p++];
        }
      }
      if (i == 0 && strip_first_ && !raw && out.starts_with(' ')) out.erase(0, 1);
      tokens[i] = std::move(out);
    }
  }

  std::string replacement_;
  bool strip_first_;
};

class Sequence : public Decoder {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void apply(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->apply(tokens);
  }
  void apply_raw(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->apply_raw(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = component_type(j, where, "decoder");
  const std::string w = where + " (" + type + ")";
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") return std::make_unique<Replace>(j, w);
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Strip")
    return std::make_unique<Strip>(j.value("content", std::string(" ")), j.value("start", size_t(0)), j.value("stop", size_t(0)));
  if (type == "Metaspace") {
    std::string scheme = j.value("prepend_scheme", std::string());
    if (scheme.empty()) scheme = j.value("add_prefix_space", true) ? "always" : "never";
    return std::make_unique<MetaspaceDecoder>(j.value("replacement", std::string("\u2581")), scheme != "never");
  }
  if (type == "Sequence") {
    return std::make_unique<Sequence>(sequence_parts<Decoder>(j, "decoders", where, make_decoder));
  }
  fail("{}: unsupported decoder type '{}' (supported: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, "
       "Sequence)", where, type);
}

}  // namespace mlxcpp
