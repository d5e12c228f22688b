#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <vector>

#include "tokenizer/pattern.h"
#include "tokenizer/utf8.h"
#include "tokenizer/component.h"
#include "util/error.h"

namespace mlxcpp {
namespace {

using nlohmann::json;

class UnicodeForm : public Normalizer {
 public:
  explicit UnicodeForm(int options) : options_(options) {}
  std::string normalize(std::string text) const override {
    utf8proc_uint8_t* out = nullptr;
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), utf8proc_ssize_t(text.size()),
                                &out, utf8proc_option_t(options_));
    if (n < 0) return text;  // invalid UTF-8 cannot come from a std::string built by us; keep as is
    std::string r(reinterpret_cast<char*>(out), size_t(n));
    std::free(out);
    return r;
  }

 private:
  int options_;
};

class Lowercase : public Normalizer {
 public:
  std::string normalize(std::string text) const override {
    std::string out;
    for (size_t i = 0; i < text.size();) {
      const size_t n = utf8::char_len(text, i);
      utf8::append(out, uint32_t(utf8proc_tolower(utf8proc_int32_t(utf8::decode_at(text, i, n)))));
      i += n;
    }
    return out;
  }
};

class Replace : public Normalizer {
 public:
  Replace(const json& j, const std::string& where)
      : pattern_(j.at("pattern"), where), content_(j.value("content", std::string())) {}
  std::string normalize(std::string text) const override {
    std::string out;
    size_t last = 0;
    for (const auto& [b, e] : pattern_.find_all(text)) {
      out.append(text, last, b - last);
      out += content_;
      last = e;
    }
    out.append(text, last);
    return out;
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string p) : prepend_(std::move(p)) {}
  std::string normalize(std::string text) const override { return text.empty() ? text : prepend_ + text; }

 private:
  std::string prepend_;
};

class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string text) const override {
    size_t b = 0, e = text.size();
    if (left_)
      while (b < e) {
        const size_t n = utf8::char_len(text, b);
        if (!utf8::is_whitespace(utf8::decode_at(text, b, n))) break;
        b += n;
      }
    if (right_)
      while (e > b) {
        size_t s = e - 1;
        while (s > b && (static_cast<unsigned char>(text[s]) & 0xc0) == 0x80) --s;
        if (!utf8::is_whitespace(utf8::decode_at(text, s, e - s))) break;
        e = s;
      }
    return text.substr(b, e - b);
  }

 private:
  bool left_, right_;
};

class Sequence : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> parts) : parts_(std::move(parts)) {}
  std::string normalize(std::string text) const override {
    for (const auto& p : parts_) text = p->normalize(std::move(text));
    return text;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = component_type(j, where, "normalizer");
  const std::string w = where + " (" + type + ")";
  if (type == "NFC") return std::make_unique<UnicodeForm>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  if (type == "NFD") return std::make_unique<UnicodeForm>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
  if (type == "NFKC") return std::make_unique<UnicodeForm>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  if (type == "NFKD") return std::make_unique<UnicodeForm>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Replace") return std::make_unique<Replace>(j, w);
  if (type == "Prepend") return std::make_unique<Prepend>(j.value("prepend", std::string()));
  if (type == "Strip") return std::make_unique<Strip>(j.value("strip_left", true), j.value("strip_right", true));
  if (type == "Sequence") {
    return std::make_unique<Sequence>(sequence_parts<Normalizer>(j, "normalizers", where, make_normalizer));
  }
  fail("{}: unsupported normalizer type '{}' (supported: NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, "
       "Strip, Sequence)", where, type);
}

}  // namespace mlxcpp
