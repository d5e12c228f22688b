#include "server/mcp_tools.h"

#include <fmt/format.h>

#include <chrono>
#include <sys/utsname.h>

#include "backend/device_info.h"
#include "catalogue/hub_resolver.h"
#include "catalogue/listing.h"
#include "catalogue/recommend.h"
#include "hardware/hardware.h"
#include "hub/hf_cache.h"
#include "hub/hub_error.h"
#include "hub/snapshot_download.h"
#include "runtime/model_source.h"
#include "server/event_channel.h"
#include "server/openai_protocol.h"
#include "server/prompt_builder.h"

namespace mlxcpp {
namespace {

using json = nlohmann::json;

[[noreturn]] void invalid(const std::string& param, const std::string& message) {
  throw ApiError(400, "invalid_params", param, message);
}

std::string str_arg(const json& a, const char* key, const std::string& fallback = "") {
  if (!a.contains(key) || a[key].is_null()) return fallback;
  if (!a[key].is_string()) invalid(key, fmt::format("'{}' must be a string", key));
  return a[key];
}

double num_arg(const json& a, const char* key, double fallback, double lo, double hi) {
  if (!a.contains(key) || a[key].is_null()) return fallback;
  if (!a[key].is_number()) invalid(key, fmt::format("'{}' must be a number", key));
  const double v = a[key];
  if (v < lo || v > hi) invalid(key, fmt::format("'{}' must be between {} and {} (got {})", key, lo, hi, v));
  return v;
}

// A failure the calling model should see (isError), not a protocol error.
ToolResult tool_error(const std::string& message) {
  ToolResult r;
  r.is_error = true;
  r.text = message;
  r.structured = {{"error", message}};
  return r;
}

ToolResult structured(json j) {
  ToolResult r;
  r.text = j.dump(2, ' ', false, json::error_handler_t::replace);
  r.structured = std::move(j);
  return r;
}

// The default model for generation: the catalogue default when cached, else the bundled one.
std::pair<std::string, std::filesystem::path> default_model() {
  const std::string id = Catalogue::load_default().default_model();
  try {
    return {id, locate_model(id)};
  } catch (const Error&) {
    return {model_id_for_dir(bundled_model_dir()), bundled_model_dir()};
  }
}

json schema(json properties, std::vector<std::string> required = {}) {
  json s = {{"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = required;
  return s;
}

}  // namespace

json McpTools::list() {
  const json categories = Catalogue::categories();
  const json sampling = {
      {"max_tokens", {{"type", "integer"}, {"minimum", 1}, {"maximum", 8192}, {"default", 512}, {"description", "Most tokens to generate"}}},
      {"temperature", {{"type", "number"}, {"minimum", 0}, {"maximum", 2}, {"default", 0.7}, {"description", "0 = greedy"}}},
      {"top_p", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}, {"default", 1.0}}},
      {"seed", {{"type", "integer"}, {"description", "Same seed and inputs → same text"}}},
      {"stop", {{"description", "Stop string or list of stop strings"},
                {"anyOf", json::array({{{"type", "string"}}, {{"type", "array"}, {"items", {{"type", "string"}}}}})}}}};
  json gen_props = {
      {"prompt", {{"type", "string"}, {"description", "User prompt (the model's chat template is applied)"}}},
      {"messages", {{"type", "array"}, {"description", "Chat messages instead of a prompt"},
                    {"items", {{"type", "object"}, {"properties", {{"role", {{"type", "string"}, {"enum", {"system", "user", "assistant"}}}},
                                                                     {"content", {{"type", "string"}}}}},
                               {"required", {"role", "content"}}}}}},
      {"system", {{"type", "string"}, {"description", "System prompt (with prompt)"}}},
      {"model", {{"type", "string"}, {"description", "Model id; default mlx-community/Phi-3.5-mini-instruct-4bit when cached, else the bundled model"}}}};
  for (const auto& [k, v] : sampling.items()) gen_props[k] = v;
  return json::array({
      {{"name", "list_models"}, {"description", "The verified mlx-community model catalogue, grouped by category"},
       {"inputSchema", schema({{"category", {{"type", "string"}, {"enum", categories}}}})}},
      {{"name", "resolve_model"}, {"description", "Check a model name or id; suggests the right mlx-community id"},
       {"inputSchema", schema({{"name", {{"type", "string"}, {"description", "e.g. 'phi-3.5' or 'mlx-community/Llama-3.1-8B-Instruct-mlx'"}}}}, {"name"})}},
      {{"name", "recommend_model"}, {"description", "The best model and quantization that fit this machine (or a given budget), with the memory arithmetic"},
       {"inputSchema", schema({{"task", {{"type", "string"}, {"enum", {"code", "general", "small-fast", "fast", "quality", "reasoning", "multilingual"}}}},
                               {"context", {{"type", "integer"}, {"minimum", 1}, {"default", kDefaultContext}}},
                               {"ram_gb", {{"type", "number"}, {"minimum", 0}}},
                               {"vram_gb", {{"type", "number"}, {"minimum", 0}}},
                               {"bandwidth_gbs", {{"type", "number"}, {"minimum", 0}, {"description", "RAM read bandwidth for the speed estimate (default: measured)"}}}})}},
      {{"name", "hardware_info"}, {"description", "CPU, SIMD features, RAM, NVIDIA GPUs and free disk of this machine"},
       {"inputSchema", schema(json::object())}},
      {{"name", "pull_model"}, {"description", "Download a model into the Hugging Face cache (checks fit first; sends progress)"},
       {"inputSchema", schema({{"id", {{"type", "string"}, {"description", "org/name[@revision]"}}},
                               {"force", {{"type", "boolean"}, {"default", false}, {"description", "Download even if it would not fit"}}}},
                              {"id"})}},
      {{"name", "generate"}, {"description", "Generate text with a local model (temperature, top_p, seed and stop are honoured)"},
       {"inputSchema", schema(gen_props)}},
      {{"name", "mlx"},
       {"description", "Compatibility tool of the original MLX integration: action status | hardware | models | generate"},
       {"inputSchema", schema({{"action", {{"type", "string"}, {"enum", {"status", "hardware", "models", "generate"}}}},
                               {"prompt", {{"type", "string"}}},
                               {"model", {{"type", "string"}}},
                               {"max_tokens", {{"type", "integer"}, {"minimum", 1}, {"maximum", 8192}, {"default", 512}}},
                               {"temperature", {{"type", "number"}, {"minimum", 0}, {"maximum", 2}, {"default", 0.7}}},
                               {"verbose", {{"type", "boolean"}, {"default", false}}}},
                              {"action"})}},
  });
}

std::shared_ptr<ModelHost> McpTools::host_for(const std::string& model) {
  std::lock_guard lock(mu_);
  if (!registry_) {
    const auto [id, dir] = default_model();
    RegistryOptions ro;
    ro.host.engine.threads = threads_;
    ro.host.engine.device = device_;
    ro.allowed_dirs = allowed_dirs_;
    registry_ = std::make_shared<ModelRegistry>(id, dir, ro);
  }
  return registry_->get(model);
}

ToolResult McpTools::call(const std::string& name, const json& args, const ProgressFn& progress,
                          const std::atomic<bool>& cancelled) {
  if (!args.is_object()) invalid("arguments", "arguments must be an object");
  if (name == "list_models") {
    const std::string category = str_arg(args, "category");
    if (!category.empty()) {
      // A wrong category is the caller's mistake (invalid params), listing the categories.
      try {
        (void)category_for_task(category);
      } catch (const Error&) {
        invalid("category", fmt::format("unknown category '{}' (categories: {})", category, fmt::join(Catalogue::categories(), ", ")));
      }
    }
    const Catalogue cat = Catalogue::load_default();
    return structured({{"models", catalogue_listing(cat, {category, std::nullopt, kDefaultContext})}, {"default_model", cat.default_model()}});
  }
  if (name == "resolve_model") {
    const std::string n = str_arg(args, "name");
    if (n.empty()) invalid("name", "'name' is required");
    return structured(resolve_model_online(Catalogue::load_default(), n, HubSettings::from_environment()).to_json());
  }
  if (name == "recommend_model") {
    std::optional<double> ram, vram;
    if (args.contains("ram_gb")) ram = num_arg(args, "ram_gb", 0, 0, 1e6);
    if (args.contains("vram_gb")) vram = num_arg(args, "vram_gb", 0, 0, 1e6);
    const Catalogue cat = Catalogue::load_default();
    const RecommendRequest req{str_arg(args, "task", "general"), int64_t(num_arg(args, "context", double(kDefaultContext), 1, 1e8))};
    MemoryBudget budget = args.contains("bandwidth_gbs") ? MemoryBudget::from(detect_hardware(), ram, vram)
                                                         : MemoryBudget::measured(detect_hardware(), ram, vram);
    if (args.contains("bandwidth_gbs"))
      budget.ram_bandwidth = num_arg(args, "bandwidth_gbs", 0, 0, 1e6) * 1e9, budget.ram_bandwidth_source = "bandwidth_gbs";
    return structured(recommend(cat, req, budget).to_json());
  }
  if (name == "hardware_info") return structured(detect_hardware().to_json());
  if (name == "pull_model") {
    std::string id = str_arg(args, "id");
    if (!looks_like_repo_id(id)) {  // a bare or Ollama-style name that names one model is that model
      const Resolution r = resolve_model_online(Catalogue::load_default(), id, HubSettings::from_environment());
      if (r.status != Resolution::Found) invalid("id", fmt::format("'{}' is not a repo id 'org/name[@revision]'{}", id, suggestions_text(r)));
      id = r.id;
    }
    ModelRequest req;
    req.spec = id;
    req.force = args.value("force", false);
    req.on_progress = [&](const PullEvent& e) {
      if (e.kind == PullEvent::FileDone || e.kind == PullEvent::FileBytes)
        progress(double(e.total_done), double(e.total_size), e.path);
    };
    try {
      const ModelLocation loc = find_or_pull_model(req);
      return structured({{"id", id}, {"path", loc.dir.string()}, {"source", loc.source}});
    } catch (const Error& e) {
      return tool_error(e.what());
    }
  }
  if (name == "generate") return generate(args, progress, cancelled);
  if (name == "mlx") return compat(args, progress, cancelled);
  throw ApiError(404, "unknown_tool", "name", fmt::format("unknown tool '{}'", name));
}

ToolResult McpTools::generate(const json& args, const ProgressFn& progress, const std::atomic<bool>& cancelled) {
  const std::string prompt = str_arg(args, "prompt"), system = str_arg(args, "system"), model = str_arg(args, "model");
  const bool has_messages = args.contains("messages") && !args["messages"].is_null();
  if (prompt.empty() == !has_messages) invalid("prompt", "give exactly one of 'prompt' or 'messages'");
  GenerationRequest g;
  g.max_tokens = int(num_arg(args, "max_tokens", 512, 1, 8192));
  const double temperature = num_arg(args, "temperature", 0.7, 0, 2);  // echoed as given, not as the float
  g.sampling.temperature = float(temperature);
  g.sampling.top_p = float(num_arg(args, "top_p", 1.0, 0, 1));
  if (args.contains("seed") && !args["seed"].is_null()) {
    if (!args["seed"].is_number_integer()) invalid("seed", "'seed' must be an integer");
    g.sampling.seed = args["seed"].get<uint64_t>();
  }
  if (args.contains("stop") && !args["stop"].is_null()) {
    if (args["stop"].is_string()) g.stop.push_back(args["stop"]);
    else if (args["stop"].is_array())
      for (const auto& s : args["stop"]) {
        if (!s.is_string() || s.get<std::string>().empty()) invalid("stop", "stop strings must be non-empty strings");
        g.stop.push_back(s);
      }
    else invalid("stop", "'stop' must be a string or a list of strings");
  }
  std::shared_ptr<ModelHost> host;
  try {
    host = host_for(model);
  } catch (const Error& e) {
    return tool_error(e.what());
  }
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (has_messages) {
    if (!args["messages"].is_array() || args["messages"].empty()) invalid("messages", "'messages' must be a non-empty list");
    for (const auto& m : args["messages"]) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") || !m["content"].is_string())
        invalid("messages", "each message needs string 'role' and 'content'");
      messages.push_back({{"role", m["role"]}, {"content", m["content"]}});
    }
  } else {
    if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
    messages.push_back({{"role", "user"}, {"content", prompt}});
  }
  // A model without a chat template gets a plain prompt as is.
  g.prompt = host->chat_template() || has_messages ? chat_prompt_tokens(*host, messages, nullptr)
                                                   : host->tokenizer().encode(prompt, true);
  const int64_t room = host->config().context_length() - int64_t(g.prompt.size());
  if (room <= 0) invalid("prompt", fmt::format("the prompt has {} tokens; the model's context is {}", g.prompt.size(), host->config().context_length()));
  g.max_tokens = int(std::min<int64_t>(g.max_tokens, room));
  auto channel = std::make_shared<EventChannel>();
  Job job;
  job.request = g;
  job.on_text = [channel](const std::string& t) { channel->push({StreamEvent::Kind::Text, t, {}}); };
  job.on_done = [channel](const GenerationResult& r) { channel->push({StreamEvent::Kind::Done, "", r}); };
  job.on_error = [channel](const std::string& m) { channel->push({StreamEvent::Kind::Error, m, {}}); };
  auto cancel = job.cancel;
  if (cancelled) cancel->store(true);  // already: the job must not start generating
  host->submit(std::move(job));
  size_t pieces = 0;
  for (;;) {
    auto e = channel->pop(std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
    if (cancelled) cancel->store(true);
    if (!e) continue;
    if (e->kind == StreamEvent::Kind::Text) {
      progress(double(++pieces), double(g.max_tokens), "generating");
      continue;
    }
    if (e->kind == StreamEvent::Kind::Error) {
      return tool_error(e->text);
    }
    const GenerationResult& res = e->result;
    ToolResult r;
    r.text = res.text;
    r.structured = {{"generated_text", res.text},
                    {"model", host->name()},
                    {"finish_reason", res.finish_reason},
                    {"temperature", temperature},
                    {"max_tokens", g.max_tokens},
                    {"usage", {{"prompt_tokens", res.prompt_tokens}, {"completion_tokens", res.generation_tokens}}},
                    {"generation_tps", res.generation_tps}};
    return r;
  }
}

// The original server's envelope: {"success": true, "data": …, "timestamp": s} or
// {"success": false, "error": {"code", "message"}}.
ToolResult McpTools::compat(const json& args, const ProgressFn& progress, const std::atomic<bool>& cancelled) {
  const auto ok = [](json data) {
    ToolResult r = structured({{"success", true}, {"data", std::move(data)}, {"timestamp", unix_now()}});
    return r;
  };
  const auto failure = [](const std::string& code, const std::string& message) {
    ToolResult r = structured({{"success", false}, {"error", {{"code", code}, {"message", message}}}, {"timestamp", unix_now()}});
    r.is_error = true;
    return r;
  };
  const std::string action = args.contains("action") && args["action"].is_string() ? args["action"].get<std::string>() : "";
  const Catalogue cat = Catalogue::load_default();
  if (action == "status") {
    const auto [id, dir] = default_model();
    utsname u{};
    uname(&u);
    bool cached = true;
    try {
      locate_model(cat.default_model());
    } catch (const Error&) {
      cached = false;
    }
    return ok({{"available", true}, {"engine", "mlxcpp"}, {"version", "0.1.0"},
               {"platform", fmt::format("{}-{}", u.sysname, u.machine)}, {"default_model", cat.default_model()},
               {"default_model_cached", cached}, {"generation_model", id}, {"cuda_built", built_with_cuda()},
               // Whether generation runs on a GPU here: a CUDA build that sees one.
               {"cuda_inference", resolve_device("auto") == Device::Cuda}});
  }
  if (action == "hardware") {
    const HardwareInfo hw = detect_hardware();
    json data = hw.to_json();
    const Recommendation rec = recommend(cat, {"general", kDefaultContext}, MemoryBudget::measured(hw, std::nullopt, std::nullopt));
    data["recommendation"] = rec.choice ? json{{"model", rec.choice->entry->id}, {"explanation", rec.explanation}}
                                        : json{{"model", nullptr}, {"explanation", rec.explanation}};
    return ok(data);
  }
  if (action == "models")
    return ok({{"models", catalogue_listing(cat, {"", std::nullopt, kDefaultContext})}, {"default_model", cat.default_model()}});
  if (action == "generate") {
    if (!args.contains("prompt") || !args["prompt"].is_string() || args["prompt"].get<std::string>().empty())
      return failure("MISSING_PROMPT", "action 'generate' needs a non-empty 'prompt'");
    json gen = {{"prompt", args["prompt"]}};
    for (const char* k : {"model", "max_tokens", "temperature"})
      if (args.contains(k)) gen[k] = args[k];
    ToolResult r;
    try {
      r = generate(gen, progress, cancelled);
    } catch (const ApiError& e) {
      return failure("INVALID_PARAMS", e.what());
    }
    if (r.is_error) return failure(r.text.find("does not exist") != std::string::npos || r.text.find("not available") != std::string::npos
                                       ? "MODEL_NOT_FOUND" : "GENERATION_FAILED", r.text);
    json data = {{"generated_text", r.structured["generated_text"]},
                 {"model", r.structured["model"]},
                 {"prompt", args["prompt"]},
                 {"max_tokens", r.structured["max_tokens"]},
                 {"temperature", r.structured["temperature"]}};
    if (args.value("verbose", false))
      for (const char* k : {"finish_reason", "usage", "generation_tps"}) data[k] = r.structured[k];
    return ok(data);
  }
  return failure("INVALID_ACTION", fmt::format("unknown action '{}': use status, hardware, models or generate", action));
}

}  // namespace mlxcpp
