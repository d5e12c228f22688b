// `serve`: the OpenAI-compatible HTTP server (server/http_server.h).
#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "cli/engine_options.h"
#include "cli/progress.h"
#include "runtime/model_source.h"
#include "server/http_server.h"

namespace mlxcpp::cli {

void register_serve(CLI::App& app) {
  struct Opts {
    std::string model, port_file;
    ServerOptions server;
    int max_concurrency = 0;  // 0: 64 on a GPU, 8 on the CPU
    int64_t step_tokens = 512;
    EngineFlags engine;
    std::vector<std::string> allowed_dirs;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server (/v1/chat/completions, /v1/completions, /v1/models)");
  cmd->add_option("-m,--model", o->model, "Default model (directory or repo id; default: the catalogue default if cached, else bundled)");
  cmd->add_option("--host", o->server.host, "Address to bind (127.0.0.1: this machine only)")->capture_default_str();
  cmd->add_option("--port", o->server.port, "Port (0: any free port)")->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_flag("--quiet", o->server.quiet, "No access log (a line per request on stderr)");
  cmd->add_option("--api-key", o->server.api_key, "Require 'Authorization: Bearer KEY' (also $MLXCPP_API_KEY)");
  cmd->add_option("--max-concurrency", o->max_concurrency,
                  "Requests generated at once, batched; more wait in a FIFO queue (default: 64 on a GPU, 8 on the CPU)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--step-tokens", o->step_tokens,
                  "Tokens per batched step: every running stream's next token, then prompt chunks (bounds a step's latency)")
      ->check(CLI::Range(int64_t(1), int64_t(8192)))->capture_default_str();
  cmd->add_option("--ctx", o->server.ctx, "Context cap per request in tokens (default: the model's)");
  cmd->add_option("--max-tokens-cap", o->server.limits.max_tokens_cap, "Largest max_tokens a request may ask for")->capture_default_str();
  cmd->add_option("--timeout", o->server.request_timeout_s, "Seconds a request may take")->capture_default_str();
  cmd->add_option("--body-limit", o->server.body_limit, "Largest request body in bytes")->capture_default_str();
  cmd->add_option("--cors", o->server.cors_origin, "Allow this browser origin (CORS is off by default)");
  cmd->add_option("--allow-paths", o->allowed_dirs, "Let requests name model directories inside these directories")
      ->expected(1, -1)->type_name("DIR…")->check(CLI::ExistingDirectory);
  cmd->add_option("--header-timeout", o->server.header_timeout_s, "Seconds a request's head may take to arrive")
      ->check(CLI::Range(0.1, 3600.0))->capture_default_str();
  cmd->add_option("--body-timeout", o->server.body_timeout_s, "Seconds a request's body may take to arrive")
      ->check(CLI::Range(0.1, 3600.0))->capture_default_str();
  cmd->add_option("--max-connections", o->server.max_connections, "Open connections at most")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  cmd->add_option("--max-connections-per-address", o->server.max_connections_per_address,
                  "Open connections at most from one client address")->check(CLI::Range(1, 1 << 20))->capture_default_str();
  o->engine.add_to(cmd);
  cmd->add_option("--port-file", o->port_file, "Write the bound port here once listening (for scripts and tests)");
  cmd->callback([o] {
    if (o->server.api_key.empty())
      if (const char* k = std::getenv("MLXCPP_API_KEY")) o->server.api_key = k;
    ModelRequest request;
    request.spec = o->model;
    request.on_progress = pull_progress_printer();
    request.on_note = [](const std::string& t) { std::fprintf(stderr, "mlxcpp: %s\n", t.c_str()); };
    const ModelLocation loc = find_or_pull_model(request);
    RegistryOptions ro;
    ro.host.engine = o->engine.options_for(loc.dir);
    if (o->max_concurrency == 0) o->max_concurrency = ro.host.engine.device == Device::Cuda ? 64 : 8;
    ro.host.max_active = o->max_concurrency;
    ro.host.step_tokens = o->step_tokens;
    for (const auto& d : o->allowed_dirs) ro.allowed_dirs.emplace_back(d);
    const std::string id = !loc.repo_id.empty() ? loc.repo_id : model_id_for_dir(loc.dir);
    auto registry = std::make_shared<ModelRegistry>(id, loc.dir, ro);
    HttpServer server(o->server, registry);
    if (!server.bind()) fail("cannot listen on {}:{}: {}", o->server.host, o->server.port, server.bind_error());
    std::fprintf(stderr, "mlxcpp: serving %s on http://%s:%d/v1 (%s)\n", id.c_str(), o->server.host.c_str(), server.port(),
                 o->server.api_key.empty() ? "no API key" : "API key required");
    if (!o->port_file.empty()) {
      std::FILE* f = std::fopen(o->port_file.c_str(), "w");
      if (!f) fail("{}: cannot write the port file", o->port_file);
      std::fprintf(f, "%d\n", server.port());
      std::fclose(f);
    }
    server.listen();
    std::fprintf(stderr, "mlxcpp: server stopped\n");
  });
}

}  // namespace mlxcpp::cli
