// `gitsyncd run`: the daemon. Loads the config, starts the sync engine and the control
// socket, tells systemd it is ready, and handles signals: SIGHUP reloads (a broken new
// config is rejected and the old one keeps running), SIGTERM/SIGINT stop after in-flight
// passes finish.
#include <signal.h>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "daemon/cli.h"
#include "daemon/control_socket.h"
#include "daemon/import_jobs.h"
#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "daemon/status_json.h"
#include "daemon/status_page.h"
#include "daemon/remote_credentials.h"
#include "daemon/service_notifier.h"
#include "sync/remote_auth.h"
#include "sync/sync_engine.h"
#include "webhooks/delivery_log.h"
#include "webhooks/http_server.h"
#include "webhooks/webhook_service.h"
#include "webhooks/webhook_verifier.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;

struct RunningConfig {
  Config config;
  std::optional<SecretStore> store;
  std::shared_ptr<SyncEngine> engine;
  std::map<std::string, VerifyPolicy> webhook_policies;
};

bool WantsListener(const Config& c) {
  if (c.daemon.listen.configured) return true;
  for (const auto& con : c.connectors) {
    if (con.webhook.enabled) return true;
  }
  return false;
}

// Resolves each webhook-enabled connector's webhook.secret once per config; a secret that
// cannot be resolved makes that connector refuse every delivery, saying why.
std::map<std::string, VerifyPolicy> WebhookPolicies(const Config& c, const SecretStore* store) {
  std::map<std::string, VerifyPolicy> out;
  for (const auto& con : c.connectors) {
    if (!con.webhook.enabled) continue;
    VerifyPolicy p;
    p.allow_sha1 = con.webhook.allow_sha1;
    if (con.webhook.secret.present()) {
      auto secret = ResolveSecret(con.webhook.secret, store, c.dir);
      if (secret.ok()) {
        p.secret = *secret;
      } else {
        p.error = "webhook.secret of connector '" + con.name + "' cannot be resolved: " + secret.status().message();
        spdlog::error("{}", p.error);
      }
    }
    out[con.name] = std::move(p);
  }
  return out;
}

// The HTTP side: the listener lives as long as the daemon; the webhook service is rebuilt
// for each config (reload) and when tokens change, and swapped in under a mutex.
class HttpFrontend {
 public:
  HttpFrontend(const DaemonConfig& daemon)
      : log_(daemon.state_dir + "/webhooks/deliveries") {}

  Status Start(const ListenConfig& listen) {
    HttpServerOptions o;
    o.address = listen.address;
    o.port = listen.port;
    o.tls_cert = listen.tls_cert;
    o.tls_key = listen.tls_key;
    o.max_body_bytes = listen.max_body_bytes;
    o.max_connections = listen.max_connections;
    o.read_timeout = listen.read_timeout;
    o.header_timeout = listen.header_timeout;
    auto server = HttpServer::Start(
        o, [this](const HttpRequest& r) { return Handle(r); }, [this](const HttpRequest& r) { return CheckHeaders(r); });
    if (!server.ok()) return server.status();
    server_ = std::move(server).value();
    spdlog::info("listening on {}://{}:{}", listen.tls_cert.empty() ? "http" : "https", listen.address, server_->port());
    return Status::Ok();
  }

  void Use(const RunningConfig& rc) {
    auto config = std::make_shared<const Config>(rc.config);
    std::vector<std::string> ids;
    for (const auto& c : config->connectors) ids.push_back(ConnectorId(c.name));
    WebhookTokens tokens = WebhookTokens::Load(config->daemon, ids);
    for (const auto& p : tokens.problems()) spdlog::error("webhooks: {}", p);
    std::weak_ptr<SyncEngine> engine = rc.engine;
    auto service = std::make_shared<WebhookService>(
        config, rc.webhook_policies, std::move(tokens), &log_,
        [engine](const std::string& binding, const std::string& reason) {
          auto e = engine.lock();
          return e && e->TriggerRemote(binding, reason);
        });
    std::lock_guard<std::mutex> lock(mu_);
    service_ = std::move(service);
    engine_ = rc.engine;
    config_ = config;
  }

  void SetReady(bool ready) { ready_ = ready; }
  // Lets clients off loopback use the operator endpoints with "Authorization: Bearer <token>".
  void SetAdminToken(std::string token) { admin_token_ = std::move(token); }
  void SetImportJobs(ImportJobs* jobs) { jobs_ = jobs; }
  void Stop() {
    if (server_) server_->Stop();
    log_.Flush();
  }

 private:
  // Before any body byte is read: a webhook URL's token decides; other paths are not trusted.
  HeaderVerdict CheckHeaders(const HttpRequest& r) {
    if (r.target.rfind(WebhookService::kPathPrefix, 0) != 0) return {};
    std::shared_ptr<WebhookService> service;
    {
      std::lock_guard<std::mutex> lock(mu_);
      service = service_;
    }
    if (service) return service->CheckHeaders(r);
    HeaderVerdict starting;
    starting.answer = Error(503, "starting");
    return starting;
  }

  HttpResponse Handle(const HttpRequest& r) {
    std::string path = r.target.substr(0, r.target.find('?'));
    if (path == "/healthz") {
      HttpResponse res;
      res.status = ready_ ? 200 : 503;
      res.body = ready_ ? "{\"status\":\"ok\"}\n" : "{\"status\":\"starting\"}\n";
      return res;
    }
    std::shared_ptr<WebhookService> service;
    std::shared_ptr<SyncEngine> engine;
    std::shared_ptr<const Config> config;
    {
      std::lock_guard<std::mutex> lock(mu_);
      service = service_;
      engine = engine_;
      config = config_;
    }
    if (path.rfind(WebhookService::kPathPrefix, 0) == 0) {
      if (service) return service->Handle(r);
      return Error(503, "starting");
    }
    bool admin = path == "/" || path == "/ui/status.js" || path == "/metrics" || path.rfind("/api/", 0) == 0;
    if (!admin) return Error(404, "not found");
    // Operator endpoints answer only on loopback (put a reverse proxy with auth in front
    // to reach them from elsewhere).
    if (!r.from_loopback) {
      std::string auth = r.Header("authorization");
      bool token_ok = !admin_token_.empty() && auth.rfind("Bearer ", 0) == 0 &&
                      ConstantTimeEquals(auth.substr(7), admin_token_);
      if (!token_ok) {
        return Error(admin_token_.empty() ? 403 : 401,
                     admin_token_.empty() ? "only answered on loopback (set listen.admin_token to allow others)"
                                          : "missing or wrong admin token (Authorization: Bearer ...)");
      }
    }
    if (path == "/" || path == "/ui/status.js") {
      HttpResponse page;
      page.content_type = path == "/" ? "text/html; charset=utf-8" : "text/javascript; charset=utf-8";
      page.body = std::string(path == "/" ? StatusPageHtml() : StatusPageScript());
      page.headers.emplace_back("Content-Security-Policy", std::string(kStatusPageCsp));
      page.headers.emplace_back("X-Content-Type-Options", "nosniff");
      return page;
    }
    if (!engine || !config) return Error(503, "starting");
    if (path == "/metrics" && r.method == "GET") {
      HttpResponse res;
      res.content_type = "text/plain; version=0.0.4; charset=utf-8";
      res.body = RenderMetrics(engine->Snapshot(), engine->QueueDepth(),
                               service ? service->counters() : WebhookCounters{});
      return res;
    }
    if (path == "/api/v1/status" && r.method == "GET") return StatusJson(*config, *engine);
    if (path.rfind("/api/v1/imports", 0) == 0 && jobs_) return Imports(r, path, *config);
    const std::string prefix = "/api/v1/syncs/", suffix = "/sync";
    if (path.rfind(prefix, 0) == 0 && path.size() > prefix.size() + suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      if (r.method != "POST") return Error(405, "use POST");
      std::string name = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
      if (!engine->TriggerRemote(name, "api request")) return Error(404, "no sync binding named '" + name + "'");
      HttpResponse res;
      res.status = 202;
      res.body = json::serialize(json::object{{"queued", name}}) + "\n";
      return res;
    }
    return Error(404, "not found");
  }

  // POST /api/v1/imports (an import request as JSON) -> 202 {"id"}; GET /api/v1/imports/ID;
  // POST /api/v1/imports/ID/cancel. The job runs on its own thread, never here.
  HttpResponse Imports(const HttpRequest& r, const std::string& path, const Config& config) {
    if (path == "/api/v1/imports") {
      if (r.method != "POST") return Error(405, "use POST");
      json::error_code ec;
      auto v = json::parse(r.body, ec);
      if (ec) return Error(400, "the body is not JSON");
      auto req = ImportRequestFromJson(v);
      if (!req.ok()) return Error(400, req.status().message());
      auto id = jobs_->Start(config, *req);
      if (!id.ok()) return Error(400, id.status().message());
      HttpResponse res;
      res.status = 202;
      res.body = json::serialize(json::object{{"id", *id}}) + "\n";
      return res;
    }
    std::string rest = path.substr(std::string("/api/v1/imports/").size());
    bool cancel = rest.size() > 7 && rest.compare(rest.size() - 7, 7, "/cancel") == 0;
    std::string id = cancel ? rest.substr(0, rest.size() - 7) : rest;
    if (cancel != (r.method == "POST")) return Error(405, cancel ? "use POST" : "use GET");
    auto p = jobs_->Get(id);
    if (!p) return Error(404, "no import job " + id);
    if (cancel) jobs_->Cancel(id);
    HttpResponse res;
    res.status = cancel ? 202 : 200;
    res.body = json::serialize(json::object{{"id", id}, {"job", ToJson(*p)}}) + "\n";
    return res;
  }

  static HttpResponse Error(int status, const std::string& message) {
    HttpResponse res;
    res.status = status;
    res.body = json::serialize(json::object{{"error", message}}) + "\n";
    return res;
  }

  // The same objects as `gitsyncd status --json`, from the engine's copy of each state.json.
  static HttpResponse StatusJson(const Config& config, const SyncEngine& engine) {
    std::map<std::string, EngineBindingStatus> live;
    for (auto& b : engine.Snapshot()) live.emplace(b.name, std::move(b));
    json::array all;
    for (const auto& c : config.connectors) {
      for (const auto& s : c.syncs) {
        auto it = live.find(s.name);
        Result<BindingState> st = it != live.end() && it->second.state ? Result<BindingState>(*it->second.state)
                                                                       : Result<BindingState>(BindingState{});
        json::object o = BindingStatusJson(c, s, st);
        if (it != live.end()) {
          o["running"] = it->second.running;
          o["queued"] = it->second.queued;
          o["next_retry_in_s"] = it->second.next_retry_in_s;
          o["last_pass_ms"] = it->second.last_pass_seconds * 1000.0;
          o["last_pass_incremental"] = it->second.last_pass_incremental;
        }
        all.push_back(std::move(o));
      }
    }
    HttpResponse res;
    res.body = json::serialize(json::object{{"bindings", std::move(all)}}) + "\n";
    return res;
  }

  DeliveryLog log_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::shared_ptr<WebhookService> service_;
  std::shared_ptr<SyncEngine> engine_;
  std::shared_ptr<const Config> config_;
  std::string admin_token_;
  ImportJobs* jobs_ = nullptr;
  std::atomic<bool> ready_{false};
};

std::optional<SecretStore> OpenStoreIfPresent(const DaemonConfig& daemon) {
  auto store = CliContext::OpenStore(daemon);
  if (store.ok()) return std::move(store).value();
  if (store.status().code() != Status::Code::kNotFound) spdlog::warn("secret store: {}", store.status().message());
  return std::nullopt;
}

Result<std::unique_ptr<RunningConfig>> StartConfig(Config config) {
  auto rc = std::make_unique<RunningConfig>();
  rc->config = std::move(config);
  rc->store = OpenStoreIfPresent(rc->config.daemon);
  Status tls = ConfigureTls(rc->config.daemon.ca_file);
  if (!tls.ok()) return tls;
  rc->webhook_policies = WebhookPolicies(rc->config, rc->store ? &*rc->store : nullptr);
  RunningConfig* raw = rc.get();
  EngineOptions options;
  options.workers = rc->config.daemon.workers;
  rc->engine = std::make_shared<SyncEngine>(
      rc->config,
      [raw](const ConnectorConfig& c, const SyncBinding& s) {
        return ResolveRemoteCredentials(raw->config, c, s.remote_url, raw->store ? &*raw->store : nullptr);
      },
      options);
  Status s = rc->engine->Start();
  if (!s.ok()) return s;
  return rc;
}

// import-start <json> / import-status <id> / import-cancel <id>; empty when not an import request.
std::string HandleImportControl(ImportJobs* jobs, const Config& config, const std::string& request) {
  auto word = request.substr(0, request.find(' '));
  std::string arg = request.size() > word.size() ? request.substr(word.size() + 1) : "";
  if (word == "import-start") {
    json::error_code ec;
    auto v = json::parse(arg, ec);
    auto r = ec ? Result<ImportRequest>(Status::InvalidArgument("malformed import request")) : ImportRequestFromJson(v);
    if (!r.ok()) return json::serialize(json::object{{"ok", false}, {"error", r.status().message()}});
    auto id = jobs->Start(config, *r);
    if (!id.ok()) return json::serialize(json::object{{"ok", false}, {"error", id.status().message()}});
    return json::serialize(json::object{{"ok", true}, {"id", *id}});
  }
  if (word == "import-status" || word == "import-cancel") {
    auto p = jobs->Get(arg);
    if (!p) return json::serialize(json::object{{"ok", false}, {"error", "no import job " + arg}});
    if (word == "import-cancel") jobs->Cancel(arg);
    return json::serialize(json::object{{"ok", true}, {"id", arg}, {"job", ToJson(*p)}});
  }
  return {};
}

std::string HandleControl(RunningConfig* const* current, std::mutex* mu, HttpFrontend* http, ImportJobs* jobs,
                          const std::string& request) {
  std::lock_guard<std::mutex> lock(*mu);
  SyncEngine& engine = *(*current)->engine;
  if (request.rfind("import-", 0) == 0) {
    std::string answer = HandleImportControl(jobs, (*current)->config, request);
    if (!answer.empty()) return answer;
  }
  if (request == "reload-webhook-tokens") {
    if (http) http->Use(**current);
    return json::serialize(json::object{{"ok", true}, {"listener", http != nullptr}});
  }
  if (request.rfind("sync-now ", 0) == 0) {
    std::string name = request.substr(9);
    auto r = engine.SyncNow(name, std::chrono::seconds(120));
    json::object o{{"binding", name}, {"ok", r.ok()}};
    if (r.ok()) o["outcome"] = *r;
    else o["error"] = r.status().message();
    return json::serialize(o);
  }
  if (request == "status") {
    json::array a;
    for (const auto& s : engine.Snapshot()) {
      a.push_back(json::object{{"name", s.name}, {"running", s.running}, {"queued", s.queued}, {"passes", s.passes},
                               {"failures", s.failures}, {"last_outcome", s.last_outcome},
                               {"last_error", s.last_error}, {"next_retry_in_s", s.next_retry_in_s}});
    }
    return json::serialize(json::object{{"ok", true}, {"bindings", std::move(a)}});
  }
  return json::serialize(json::object{{"ok", false}, {"error", "unknown request"}});
}

std::string Summary(const Config& c) {
  size_t bindings = 0;
  for (const auto& con : c.connectors) bindings += con.syncs.size();
  return std::to_string(c.connectors.size()) + " connectors, " + std::to_string(bindings) + " sync bindings";
}

int Run(CliContext& ctx) {
  auto config = ctx.LoadConfigOrReport();
  if (!config) return kExitUserError;
  SetupLogging(ctx.log_level.empty() ? config->daemon.log_level : ctx.log_level, config->daemon.log_format);
  std::error_code ec;
  std::filesystem::create_directories(config->daemon.state_dir, ec);
  if (ec) return UserError("cannot create state_dir " + config->daemon.state_dir + ": " + ec.message());

  // Signals are taken synchronously by this thread; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto started = StartConfig(std::move(*config));
  if (!started.ok()) return UserError(started.status().message());
  std::unique_ptr<RunningConfig> current = std::move(started).value();
  RunningConfig* current_raw = current.get();
  std::mutex control_mu;
  ImportJobs import_jobs;
  std::unique_ptr<HttpFrontend> http;
  if (WantsListener(current->config)) {
    http = std::make_unique<HttpFrontend>(current->config.daemon);
    http->Use(*current);
    http->SetImportJobs(&import_jobs);
    if (current->config.daemon.listen.admin_token.present()) {
      auto token = ResolveSecret(current->config.daemon.listen.admin_token, current->store ? &*current->store : nullptr,
                                 current->config.dir);
      if (!token.ok()) {
        current->engine->Stop();
        return UserError(token.status().WithContext("listen.admin_token").message());
      }
      http->SetAdminToken(*token);
    }
    Status listening = http->Start(current->config.daemon.listen);
    if (!listening.ok()) {
      current->engine->Stop();
      return UserError(listening.message());
    }
  }
  std::string socket_path = ControlSocketPath(current->config.daemon.state_dir);
  auto control = ControlServer::Start(socket_path, [&](const std::string& req) {
    return HandleControl(&current_raw, &control_mu, http.get(), &import_jobs, req);
  });
  if (!control.ok()) return UserError(control.status().message());
  if (http) http->SetReady(true);

  ServiceNotifier notifier;
  spdlog::info("gitsyncd running: {} (config {})", Summary(current->config), ctx.config_dir);
  notifier.Ready(Summary(current->config));
  auto watchdog = ServiceNotifier::WatchdogInterval();
  timespec tick{1, 0};
  if (watchdog.count() > 0 && watchdog < std::chrono::seconds(1)) {
    tick = {0, static_cast<long>(watchdog.count() * 1000)};
  }
  for (;;) {
    siginfo_t info{};
    int sig = sigtimedwait(&signals, &info, &tick);
    if (watchdog.count() > 0) notifier.WatchdogPing();
    if (sig < 0) continue;
    if (sig == SIGHUP) {
      notifier.Reloading();
      spdlog::info("reloading config {}", ctx.config_dir);
      auto fresh = ctx.LoadConfigOrReport();
      if (!fresh) {
        spdlog::error("new config rejected; the running config stays in effect");
        notifier.Ready("reload rejected; " + Summary(current->config));
        continue;
      }
      // The old engine finishes its in-flight passes before the new one takes over.
      std::lock_guard<std::mutex> lock(control_mu);
      current->engine->Stop();
      auto next = StartConfig(std::move(*fresh));
      if (!next.ok()) {
        spdlog::error("reload failed: {}; restarting the previous config", next.status().message());
        next = StartConfig(current->config);
        if (!next.ok()) return UserError(next.status().message());
      }
      current = std::move(next).value();
      current_raw = current.get();
      if (http) {
        http->Use(*current);
      } else if (WantsListener(current->config)) {
        spdlog::warn("the new config enables webhooks or `listen`; the listener starts at the next restart");
      }
      notifier.Ready(Summary(current->config));
      spdlog::info("reloaded: {}", Summary(current->config));
      continue;
    }
    spdlog::info("stopping (signal {})", sig);
    notifier.Stopping();
    break;
  }
  if (http) {
    http->SetReady(false);
    http->Stop();
  }
  control->reset();
  std::lock_guard<std::mutex> lock(control_mu);
  current->engine->Stop();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace

void RegisterRunCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("run", "Run the daemon: sync every binding until stopped (SIGHUP reloads)");
  cmd->callback([&ctx] { ctx.action = [&ctx] { return Run(ctx); }; });
}

}  // namespace gitsyncd
