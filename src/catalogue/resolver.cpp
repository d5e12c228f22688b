#include "catalogue/resolver.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

namespace mlxcpp {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "mlx-community/Meta-Llama-3.1-8B-Instruct-4bit" → {meta, llama, 3.1, 8b, instruct, 4bit}
std::vector<std::string> tokens(const std::string& name) {
  std::string s = lower(name);
  if (const auto slash = s.find('/'); slash != std::string::npos) s = s.substr(slash + 1);
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == '-' || c == '_' || c == ' ' || c == '/') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  // "v0.2" and "0.2" are the same version.
  for (auto& t : out)
    if (t.size() > 1 && t[0] == 'v' && std::isdigit(static_cast<unsigned char>(t[1]))) t = t.substr(1);
  return out;
}

bool is_quant_token(const std::string& t) {
  static const std::set<std::string> q = {"4bit", "8bit", "3bit", "5bit", "6bit", "2bit", "bf16", "fp16", "f16",
                                          "mxfp4", "mxfp8", "nvfp4", "dwq", "qat"};
  return q.count(t) != 0;
}

// Tokens that do not change which model it is: packaging markers.
bool is_noise_token(const std::string& t) { return t == "mlx" || t == "hf" || t == "meta"; }

// The model identity without packaging: no org, no quantization, no -mlx / Meta- markers.
std::string canonical(const std::vector<std::string>& toks, bool drop_instruct) {
  std::string out;
  for (const auto& t : toks) {
    if (is_quant_token(t) || is_noise_token(t)) continue;
    if (drop_instruct && (t == "instruct" || t == "chat" || t == "it")) continue;
    out += (out.empty() ? "" : "-") + t;
  }
  return out;
}

std::string quant_of(const std::vector<std::string>& toks) {
  for (const auto& t : toks)
    if (is_quant_token(t) && t != "dwq" && t != "qat") return t == "f16" ? "fp16" : t;
  return "";
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Ollama's names ("llama3.2", "llama3.2:1b", "phi3.5", "qwen2.5-coder:7b", "gemma2:2b-q8_0"):
// the family with its punctuation dropped, then an optional tag whose leading "<n>b" is
// the size ("<n>x<m>b" for a mixture: n × m) and whose q8 / fp16 asks for that quantization.
// Without a size: the family's largest model up to 10B parameters, or its smallest when it
// has none that small, which is Ollama's default tag for every family in the catalogue.
// Returns the catalogue id, or "".
std::string ollama_style_id(const Catalogue& cat, const std::string& name) {
  const auto squash = [](const std::string& t) {
    std::string out;
    for (const char c : lower(t))
      if (c != '-' && c != '_' && c != ' ') out += c;
    return out;
  };
  const size_t colon = name.find(':');
  const std::string family = squash(name.substr(0, colon)), tag = colon == std::string::npos ? "" : lower(name.substr(colon + 1));
  if (family.empty() || name.find('/') != std::string::npos) return "";
  double size = 0;
  if (!tag.empty()) {
    size_t used = 0;
    try {
      size = std::stod(tag, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used > 0 && used < tag.size() && tag[used] == 'x') {  // a mixture's "8x7b": 8 experts of 7B
      size_t more = 0;
      try {
        size *= std::stod(tag.substr(used + 1), &more);
      } catch (const std::exception&) {
        more = 0;
      }
      used = more == 0 ? 0 : used + 1 + more;
    }
    if (used == 0 || used >= tag.size() || tag[used] != 'b') size = 0;
  }
  const std::string quant = tag.find("q8") != std::string::npos                                               ? "8bit"
                            : tag.find("fp16") != std::string::npos || tag.find("bf16") != std::string::npos ? "bf16"
                                                                                                             : "4bit";
  std::vector<const CatalogueEntry*> family_entries;
  for (const auto& e : cat.entries())
    if (squash(e.family) == family && e.supported) family_entries.push_back(&e);
  if (family_entries.empty()) return "";
  double want = size;
  if (want == 0)
    for (const auto* e : family_entries)
      if (e->parameters_b <= 10) want = std::max(want, e->parameters_b);
  if (want == 0)  // a family that starts above 10B (mixtral, gpt-oss, qwen3-coder): its smallest
    for (const auto* e : family_entries) want = want == 0 ? e->parameters_b : std::min(want, e->parameters_b);
  const CatalogueEntry* best = nullptr;
  const auto rank = [&](const CatalogueEntry* e) { return e->quantization == quant ? 0 : e->quantization == "4bit" ? 1 : 2; };
  for (const auto* e : family_entries) {
    if (want == 0 || std::abs(e->parameters_b - want) > 0.35 * want) continue;  // tags are nominal: gemma2:2b is 2.6B
    if (!best || rank(e) < rank(best)) best = e;
  }
  return best ? best->id : "";
}

}  // namespace

nlohmann::json Resolution::to_json() const {
  nlohmann::json s = nlohmann::json::array();
  for (const auto& x : suggestions) s.push_back({{"id", x.id}, {"score", x.score}, {"why", x.why}});
  return {{"requested", requested},
          {"status", status == Found ? "found" : status == SuggestionsOnly ? "suggestions" : "not_found"},
          {"id", status == Found ? nlohmann::json(id) : nlohmann::json(nullptr)},
          {"suggestions", s},
          {"message", message}};
}

Resolution resolve_model_name(const Catalogue& cat, const std::string& name, size_t max_suggestions,
                              const std::vector<std::string>& extra_ids) {
  Resolution r;
  r.requested = name;
  if (cat.find(name)) {
    r.status = Resolution::Found;
    r.id = name;
    r.message = name + " is in the catalogue";
    return r;
  }
  if (const std::string id = ollama_style_id(cat, name); !id.empty()) {
    r.status = Resolution::Found;
    r.id = id;
    r.message = fmt::format("{} is {} (an Ollama-style name: the family, and the size of its tag)", name, id);
    return r;
  }
  const auto q = tokens(name);
  const std::string q_quant = quant_of(q);
  const std::string q_can = canonical(q, false), q_can_loose = canonical(q, true);
  std::set<std::string> q_set;
  for (const auto& t : q)
    if (!is_noise_token(t) && !is_quant_token(t)) q_set.insert(t);  // quantization is scored on its own below
  struct Candidate {
    std::string id;
    bool supported;
  };
  std::vector<Candidate> candidates;
  for (const auto& e : cat.entries()) candidates.push_back({e.id, e.supported});
  for (const auto& id : extra_ids)
    if (!cat.find(id)) candidates.push_back({id, true});
  for (const auto& e : candidates) {
    if (lower(e.id) == lower(name) || lower(e.id) == "mlx-community/" + lower(name)) {
      r.status = Resolution::Found;
      r.id = e.id;
      r.message = fmt::format("{} is {} (ids are matched without regard to case or the mlx-community/ prefix)", name, e.id);
      return r;
    }
    if (std::any_of(r.suggestions.begin(), r.suggestions.end(), [&](const Suggestion& x) { return x.id == e.id; })) continue;
    const auto c = tokens(e.id);
    const std::string c_quant = quant_of(c);
    std::set<std::string> c_set;
    for (const auto& t : c)
      if (!is_noise_token(t) && !is_quant_token(t)) c_set.insert(t);
    Suggestion s{e.id, 0, ""};
    if (canonical(c, false) == q_can) {
      s.score = 100;
      s.why = "same model, different packaging";
    } else if (canonical(c, true) == q_can_loose) {
      s.score = 80;
      s.why = "same base model, without the instruct/chat marker";
    } else {
      // Token overlap (short names) plus edit similarity of the identities.
      size_t hits = 0;
      for (const auto& t : q_set)
        if (c_set.count(t) || std::any_of(c_set.begin(), c_set.end(), [&](const std::string& x) { return x.starts_with(t) && t.size() >= 3; }))
          ++hits;
      const double overlap = q_set.empty() ? 0 : double(hits) / double(q_set.size());
      const std::string cc = canonical(c, false);
      const double sim = 1.0 - double(edit_distance(q_can, cc)) / double(std::max<size_t>(1, std::max(q_can.size(), cc.size())));
      s.score = 60 * overlap + 30 * sim - 1.0 * double(c_set.size() > hits ? c_set.size() - hits : 0);
      s.why = fmt::format("{} of {} name parts match", hits, q_set.size());
    }
    // Quantization preference: what was asked for, else the default 4-bit variant.
    if (!q_quant.empty()) s.score += c_quant == q_quant ? 10 : -10;
    else s.score += c_quant == "4bit" ? 3 : c_quant.empty() ? 2 : 0;
    if (!e.supported) s.score -= 5;
    if (s.score > 35) r.suggestions.push_back(s);
  }
  std::stable_sort(r.suggestions.begin(), r.suggestions.end(), [](const Suggestion& a, const Suggestion& b) { return a.score > b.score; });
  if (r.suggestions.size() > max_suggestions) r.suggestions.resize(max_suggestions);
  if (r.suggestions.empty()) {
    r.status = Resolution::Nothing;
    r.message = fmt::format("'{}' is not in the catalogue and nothing resembles it ('mlxcpp list' shows the catalogue)", name);
  } else {
    r.status = Resolution::SuggestionsOnly;
    std::string ids;
    for (const auto& s : r.suggestions) ids += (ids.empty() ? "" : ", ") + s.id;
    r.message = name.find('/') == std::string::npos
                    ? fmt::format("'{}' is not a model id; did you mean: {}", name, ids)
                    : fmt::format("'{}' does not exist in the catalogue; did you mean: {}", name, ids);
  }
  return r;
}

}  // namespace mlxcpp
