// mlxcpp C++ API: a thin RAII layer over the C API (mlxcpp.h). Failures throw mlxcpp::Failure
// carrying the status and the library's message.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mlxcpp/mlxcpp.h"

namespace mlxcpp {

class Failure : public std::runtime_error {
 public:
  Failure(mlxcpp_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  mlxcpp_status status() const { return status_; }

 private:
  mlxcpp_status status_;
};

namespace detail {
inline void check(mlxcpp_status s) {
  if (s != MLXCPP_OK) throw Failure(s, mlxcpp_last_error());
}
inline std::string take(char* s) {
  std::string out = s ? s : "";
  mlxcpp_free_string(s);
  return out;
}
}  // namespace detail

struct GenerateOptions {
  int max_tokens = 256;
  float temperature = 0, top_p = 1, min_p = 0, repetition_penalty = 0;
  int top_k = 0;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  bool chat = true;  // apply the chat template
};

struct Generation {
  std::string text, finish_reason;
  int64_t prompt_tokens = 0, generation_tokens = 0;
  double prompt_tps = 0, generation_tps = 0;
};

class Model {
 public:
  // A directory, a repo id, or "" for the default model.
  explicit Model(const std::string& model = "", int threads = 0, bool allow_download = false) {
    mlxcpp_load_params p = mlxcpp_load_default_params();
    p.threads = threads;
    p.allow_download = allow_download ? 1 : 0;
    mlxcpp_model* m = nullptr;
    detail::check(mlxcpp_model_load(model.empty() ? nullptr : model.c_str(), &p, &m));
    handle_.reset(m);
  }

  std::vector<int32_t> tokenize(const std::string& text, bool add_special_tokens = true) const {
    size_t n = 0;
    std::vector<int32_t> ids(text.size() + 8);
    mlxcpp_status s = mlxcpp_tokenize(handle_.get(), text.c_str(), add_special_tokens, ids.data(), ids.size(), &n);
    if (s == MLXCPP_ERROR_BUFFER_TOO_SMALL) {
      ids.resize(n);
      s = mlxcpp_tokenize(handle_.get(), text.c_str(), add_special_tokens, ids.data(), ids.size(), &n);
    }
    detail::check(s);
    ids.resize(n);
    return ids;
  }

  std::string detokenize(const std::vector<int32_t>& ids) const {
    char* out = nullptr;
    detail::check(mlxcpp_detokenize(handle_.get(), ids.data(), ids.size(), &out));
    return detail::take(out);
  }

  // messages_json: [{"role": ..., "content": ...}, ...]
  std::string apply_chat_template(const std::string& messages_json, bool add_generation_prompt = true) const {
    char* out = nullptr;
    detail::check(mlxcpp_apply_chat_template(handle_.get(), messages_json.c_str(), add_generation_prompt, &out));
    return detail::take(out);
  }

  // on_text receives each new piece; return false from it to stop early.
  Generation generate(const std::string& prompt, const GenerateOptions& o = {},
                      const std::function<bool(const std::string&)>& on_text = {}) {
    mlxcpp_generate_params p = mlxcpp_generate_default_params();
    p.max_tokens = o.max_tokens;
    p.temperature = o.temperature;
    p.top_p = o.top_p;
    p.top_k = o.top_k;
    p.min_p = o.min_p;
    p.repetition_penalty = o.repetition_penalty;
    p.has_seed = o.seed.has_value();
    p.seed = o.seed.value_or(0);
    std::vector<const char*> stops;
    for (const auto& s : o.stop) stops.push_back(s.c_str());
    p.stop = stops.data();
    p.n_stop = stops.size();
    auto trampoline = [](const char* text, size_t len, void* user) -> int {
      const auto* f = static_cast<const std::function<bool(const std::string&)>*>(user);
      return (*f)(std::string(text, len)) ? 0 : 1;
    };
    mlxcpp_generation g{};
    detail::check(mlxcpp_generate(handle_.get(), prompt.c_str(), o.chat, &p, on_text ? +trampoline : nullptr,
                                  const_cast<void*>(static_cast<const void*>(&on_text)), &g));
    Generation out{g.text ? g.text : "", g.finish_reason, g.prompt_tokens, g.generation_tokens, g.prompt_tps, g.generation_tps};
    mlxcpp_generation_free(&g);
    return out;
  }

  int64_t context_length() const { return mlxcpp_model_context_length(handle_.get()); }

 private:
  struct Free {
    void operator()(mlxcpp_model* m) const { mlxcpp_model_free(m); }
  };
  std::unique_ptr<mlxcpp_model, Free> handle_;
};

inline std::string catalogue_json(const std::string& category = "") {
  char* out = nullptr;
  detail::check(mlxcpp_catalogue_json(category.empty() ? nullptr : category.c_str(), &out));
  return detail::take(out);
}

inline std::string resolve_json(const std::string& name, bool* found = nullptr) {
  char* out = nullptr;
  int f = 0;
  detail::check(mlxcpp_resolve_json(name.c_str(), &out, &f));
  if (found) *found = f != 0;
  return detail::take(out);
}

inline std::string recommend_json(const std::string& task = "general", int64_t context = 4096, double ram_gb = -1,
                                  double vram_gb = -1) {
  char* out = nullptr;
  detail::check(mlxcpp_recommend_json(task.c_str(), context, ram_gb, vram_gb, &out));
  return detail::take(out);
}

inline std::string hardware_json() {
  char* out = nullptr;
  detail::check(mlxcpp_hardware_json(&out));
  return detail::take(out);
}

}  // namespace mlxcpp
