#include "tokenizer/post_processor.h"

#include <map>
#include <nlohmann/json.hpp>

#include "tokenizer/component.h"
#include "util/error.h"

namespace mlxcpp {
namespace {

using nlohmann::json;

class Template : public PostProcessor {
 public:
  Template(const json& j, const std::string& where) {
    std::map<std::string, std::vector<int32_t>> specials;
    const json special_tokens = j.value("special_tokens", json::object());
    for (const auto& [name, sp] : special_tokens.items()) {
      std::vector<int32_t> ids;
      for (const auto& id : sp.value("ids", json::array())) {
        if (!id.is_number_integer()) fail("{}: special_tokens['{}'].ids must be integers", where, name);
        ids.push_back(id.get<int32_t>());
      }
      specials[name] = ids;
    }
    const json& single = j.value("single", json::array());
    if (!single.is_array()) fail("{}: 'single' must be a list", where);
    for (const auto& item : single) {
      if (item.contains("Sequence")) {
        items_.push_back({true, {}});
      } else if (item.contains("SpecialToken")) {
        const std::string id = item["SpecialToken"].value("id", std::string());
        const auto it = specials.find(id);
        if (it == specials.end()) fail("{}: template uses special token '{}' missing from special_tokens", where, id);
        items_.push_back({false, it->second});
      } else {
        fail("{}: template item {} is neither Sequence nor SpecialToken", where, item.dump());
      }
    }
  }
  std::vector<int32_t> apply(std::vector<int32_t> ids) const override {
    std::vector<int32_t> out;
    for (const auto& it : items_) {
      if (it.sequence) out.insert(out.end(), ids.begin(), ids.end());
      else out.insert(out.end(), it.ids.begin(), it.ids.end());
    }
    return out;
  }

 private:
  struct Item {
    bool sequence;
    std::vector<int32_t> ids;
  };
  std::vector<Item> items_;
};

class Surround : public PostProcessor {  // Bert / Roberta single-sequence form: CLS A SEP
 public:
  Surround(int32_t cls, int32_t sep) : cls_(cls), sep_(sep) {}
  std::vector<int32_t> apply(std::vector<int32_t> ids) const override {
    ids.insert(ids.begin(), cls_);
    ids.push_back(sep_);
    return ids;
  }

 private:
  int32_t cls_, sep_;
};

class Identity : public PostProcessor {
 public:
  std::vector<int32_t> apply(std::vector<int32_t> ids) const override { return ids; }
};

class Sequence : public PostProcessor {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PostProcessor>> parts) : parts_(std::move(parts)) {}
  std::vector<int32_t> apply(std::vector<int32_t> ids) const override {
    for (const auto& p : parts_) ids = p->apply(std::move(ids));
    return ids;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> parts_;
};

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const json& j, const std::string& where) {
  if (j.is_null()) return nullptr;
  const std::string type = component_type(j, where, "post_processor");
  const std::string w = where + " (" + type + ")";
  if (type == "TemplateProcessing") return std::make_unique<Template>(j, w);
  if (type == "ByteLevel") return std::make_unique<Identity>();
  if (type == "BertProcessing" || type == "RobertaProcessing") {
    auto id_of = [&](const char* key) {
      if (!j.contains(key) || !j[key].is_array() || j[key].size() != 2 || !j[key][1].is_number_integer())
        fail("{}: '{}' must be [token, id]", w, key);
      return j[key][1].get<int32_t>();
    };
    return std::make_unique<Surround>(id_of("cls"), id_of("sep"));
  }
  if (type == "Sequence") {
    return std::make_unique<Sequence>(sequence_parts<PostProcessor>(j, "processors", where, make_post_processor));
  }
  fail("{}: unsupported post_processor type '{}' (supported: TemplateProcessing, BertProcessing, "
       "RobertaProcessing, ByteLevel, Sequence)", where, type);
}

}  // namespace mlxcpp
