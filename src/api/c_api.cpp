// The C API (include/mlxcpp/mlxcpp.h) over the library: errors become status codes with a
// thread-local message; nothing throws across the boundary.
#include "mlxcpp/mlxcpp.h"

#include <cstring>
#include <memory>
#include <optional>

#include "catalogue/hub_resolver.h"
#include "catalogue/listing.h"
#include "catalogue/recommend.h"
#include "hardware/hardware.h"
#include "runtime/engine.h"
#include "runtime/tuning.h"
#include "runtime/generator.h"
#include "runtime/model_source.h"
#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"

struct mlxcpp_model {
  std::shared_ptr<const mlxcpp::Tokenizer> tokenizer;
  std::unique_ptr<mlxcpp::Engine> model;
  std::optional<mlxcpp::ChatTemplate> chat_template;
  std::string dir;
};

namespace {

thread_local std::string g_last_error;

// Runs f, turning exceptions into a status and the thread's last error.
template <typename F>
mlxcpp_status guarded(F&& f) {
  try {
    g_last_error.clear();
    return f();
  } catch (const mlxcpp::ModelNotFound& e) {
    g_last_error = e.what();
    return MLXCPP_ERROR_NOT_FOUND;
  } catch (const std::invalid_argument& e) {
    g_last_error = e.what();
    return MLXCPP_ERROR_INVALID_ARGUMENT;
  } catch (const std::exception& e) {
    g_last_error = e.what();
    return MLXCPP_ERROR_FAILED;
  }
}

char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (!out) throw std::bad_alloc();
  std::memcpy(out, s.data(), s.size() + 1);
  return out;
}

void require(bool ok, const char* message) {
  if (!ok) throw std::invalid_argument(message);
}

}  // namespace

extern "C" {

const char* mlxcpp_version(void) { return "0.1.0"; }
const char* mlxcpp_last_error(void) { return g_last_error.c_str(); }
void mlxcpp_free_string(char* s) { std::free(s); }

mlxcpp_load_params mlxcpp_load_default_params(void) { return {0, 0, 0, 0}; }

mlxcpp_status mlxcpp_model_load(const char* model, const mlxcpp_load_params* params, mlxcpp_model** out) {
  return guarded([&] {
    require(out != nullptr, "mlxcpp_model_load: out is NULL");
    *out = nullptr;
    const mlxcpp_load_params p = params ? *params : mlxcpp_load_default_params();
    mlxcpp::ModelRequest req;
    req.spec = model ? model : "";
    req.allow_download = p.allow_download != 0;
    const auto loc = mlxcpp::find_or_pull_model(req);
    auto m = std::make_unique<mlxcpp_model>();
    m->dir = loc.dir.string();
    m->tokenizer = mlxcpp::Tokenizer::load(loc.dir);
    require(p.device >= 0 && p.device <= 2, "mlxcpp_model_load: device must be 0 (auto), 1 (CPU) or 2 (CUDA)");
    const mlxcpp::Device device = mlxcpp::resolve_device(p.device == 0 ? "auto" : p.device == 1 ? "cpu" : "cuda");
    // The C API is a front end: it reads the tuning environment as the CLI does.
    const mlxcpp::Tuning tuning = mlxcpp::tuning_from_environment();
    static const bool tuned = (mlxcpp::apply_tuning(tuning), true);  // process-wide: once
    (void)tuned;
    mlxcpp::EngineOptions options;
    mlxcpp::apply_tuning(tuning, options);
    options.threads = p.threads;
    options.precision = p.precision == 1 ? mlxcpp::Precision::F32 : mlxcpp::Precision::Fast;
    options.device = device;
    m->model = mlxcpp::Engine::load(loc.dir, options);
    if (m->tokenizer->chat_template()) m->chat_template.emplace(mlxcpp::ChatTemplate::for_tokenizer(*m->tokenizer, m->dir));
    *out = m.release();
    return MLXCPP_OK;
  });
}

void mlxcpp_model_free(mlxcpp_model* model) { delete model; }

int64_t mlxcpp_model_context_length(const mlxcpp_model* model) { return model ? model->model->config().context_length() : 0; }

mlxcpp_status mlxcpp_tokenize(const mlxcpp_model* model, const char* text, int add_special_tokens, int32_t* ids,
                              size_t capacity, size_t* n_out) {
  return guarded([&] {
    require(model && text && n_out, "mlxcpp_tokenize: model, text and n_out must not be NULL");
    const auto v = model->tokenizer->encode(text, add_special_tokens != 0);
    *n_out = v.size();
    if (v.size() > capacity) {
      g_last_error = "mlxcpp_tokenize: " + std::to_string(v.size()) + " tokens do not fit in " + std::to_string(capacity);
      return MLXCPP_ERROR_BUFFER_TOO_SMALL;
    }
    require(ids || v.empty(), "mlxcpp_tokenize: ids is NULL");
    std::copy(v.begin(), v.end(), ids);
    return MLXCPP_OK;
  });
}

mlxcpp_status mlxcpp_detokenize(const mlxcpp_model* model, const int32_t* ids, size_t n, char** text_out) {
  return guarded([&] {
    require(model && text_out && (ids || n == 0), "mlxcpp_detokenize: NULL argument");
    for (size_t i = 0; i < n; ++i)
      require(ids[i] >= 0 && size_t(ids[i]) < model->tokenizer->vocab_size(), "mlxcpp_detokenize: token id outside the vocabulary");
    *text_out = copy_string(model->tokenizer->decode(std::span<const int32_t>(ids, n), false));
    return MLXCPP_OK;
  });
}

mlxcpp_status mlxcpp_apply_chat_template(const mlxcpp_model* model, const char* messages_json, int add_generation_prompt,
                                         char** prompt_out) {
  return guarded([&] {
    require(model && messages_json && prompt_out, "mlxcpp_apply_chat_template: NULL argument");
    require(model->chat_template.has_value(), "mlxcpp_apply_chat_template: the model has no chat template");
    const auto messages = nlohmann::ordered_json::parse(messages_json, nullptr, false);
    require(messages.is_array(), "mlxcpp_apply_chat_template: messages_json must be a JSON array of messages");
    *prompt_out = copy_string(model->chat_template->render(messages, nullptr, add_generation_prompt != 0));
    return MLXCPP_OK;
  });
}

mlxcpp_generate_params mlxcpp_generate_default_params(void) {
  mlxcpp_generate_params p{};
  p.max_tokens = 256;
  p.top_p = 1.0f;
  return p;
}

mlxcpp_status mlxcpp_generate(mlxcpp_model* model, const char* prompt, int chat, const mlxcpp_generate_params* params,
                              mlxcpp_token_callback callback, void* user_data, mlxcpp_generation* out) {
  return guarded([&] {
    require(model && prompt && out, "mlxcpp_generate: model, prompt and out must not be NULL");
    *out = mlxcpp_generation{};
    const mlxcpp_generate_params p = params ? *params : mlxcpp_generate_default_params();
    mlxcpp::GenerationRequest req;
    if (chat) {
      require(model->chat_template.has_value(), "mlxcpp_generate: chat requested but the model has no chat template");
      const nlohmann::ordered_json messages = nlohmann::ordered_json::array({{{"role", "user"}, {"content", prompt}}});
      req.prompt = model->tokenizer->encode(model->chat_template->render(messages, nullptr, true), false);
    } else {
      req.prompt = model->tokenizer->encode(prompt, true);
    }
    req.max_tokens = p.max_tokens;
    req.sampling.temperature = p.temperature;
    req.sampling.top_p = p.top_p;
    req.sampling.top_k = p.top_k;
    req.sampling.min_p = p.min_p;
    req.sampling.repetition_penalty = p.repetition_penalty;
    if (p.has_seed) req.sampling.seed = p.seed;
    for (size_t i = 0; i < p.n_stop; ++i) {
      require(p.stop && p.stop[i], "mlxcpp_generate: NULL stop string");
      req.stop.push_back(p.stop[i]);
    }
    try {
      mlxcpp::validate_sampling(req.sampling);
    } catch (const mlxcpp::Error& e) {
      throw std::invalid_argument(e.what());
    }
    std::atomic<bool> stop{false};
    req.cancel = &stop;
    mlxcpp::GenerationStream stream(*model->model, *model->tokenizer, req, [&](const std::string& t) {
      if (callback && callback(t.data(), t.size(), user_data) != 0) stop = true;
    });
    while (stream.step()) {
    }
    const auto& r = stream.result();
    out->text = copy_string(r.text);
    out->prompt_tokens = r.prompt_tokens;
    out->generation_tokens = r.generation_tokens;
    std::snprintf(out->finish_reason, sizeof(out->finish_reason), "%s", r.finish_reason.c_str());
    out->prompt_tps = r.prompt_tps;
    out->generation_tps = r.generation_tps;
    return MLXCPP_OK;
  });
}

void mlxcpp_generation_free(mlxcpp_generation* g) {
  if (!g) return;
  std::free(g->text);
  g->text = nullptr;
}

mlxcpp_status mlxcpp_catalogue_json(const char* category, char** json_out) {
  return guarded([&] {
    require(json_out != nullptr, "mlxcpp_catalogue_json: json_out is NULL");
    const mlxcpp::Catalogue cat = mlxcpp::Catalogue::load_default();
    const std::string c = category ? category : "";
    if (!c.empty()) (void)mlxcpp::category_for_task(c);
    const nlohmann::ordered_json j = {{"models", mlxcpp::catalogue_listing(cat, {c, std::nullopt, mlxcpp::kDefaultContext})},
                                      {"default_model", cat.default_model()}};
    *json_out = copy_string(j.dump());
    return MLXCPP_OK;
  });
}

mlxcpp_status mlxcpp_resolve_json(const char* name, char** json_out, int* found) {
  return guarded([&] {
    require(name && json_out, "mlxcpp_resolve_json: NULL argument");
    const auto r = mlxcpp::resolve_model_online(mlxcpp::Catalogue::load_default(), name, mlxcpp::HubSettings::from_environment());
    if (found) *found = r.status == mlxcpp::Resolution::Found;
    *json_out = copy_string(r.to_json().dump());
    return MLXCPP_OK;
  });
}

mlxcpp_status mlxcpp_recommend_json(const char* task, int64_t context, double ram_gb, double vram_gb, char** json_out) {
  return guarded([&] {
    require(json_out != nullptr, "mlxcpp_recommend_json: json_out is NULL");
    const mlxcpp::Catalogue cat = mlxcpp::Catalogue::load_default();
    const auto budget = mlxcpp::MemoryBudget::from(mlxcpp::detect_hardware(), ram_gb >= 0 ? std::optional<double>(ram_gb) : std::nullopt,
                                                   vram_gb >= 0 ? std::optional<double>(vram_gb) : std::nullopt);
    const auto rec = mlxcpp::recommend(cat, {task ? task : "general", context > 0 ? context : mlxcpp::kDefaultContext}, budget);
    *json_out = copy_string(rec.to_json().dump());
    return MLXCPP_OK;
  });
}

mlxcpp_status mlxcpp_hardware_json(char** json_out) {
  return guarded([&] {
    require(json_out != nullptr, "mlxcpp_hardware_json: json_out is NULL");
    *json_out = copy_string(mlxcpp::detect_hardware().to_json().dump());
    return MLXCPP_OK;
  });
}

}  // extern "C"
