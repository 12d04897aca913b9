// `gitsyncd run`: the daemon. Loads the config, starts the sync engine and the control
// socket, tells systemd it is ready, and handles signals: SIGHUP reloads (a broken new
// config is rejected and the old one keeps running), SIGTERM/SIGINT stop: in-flight passes
// get a short grace period, then their network I/O is cancelled. The main thread only waits
// for signals and pings the watchdog; it never waits on a pass.
#include <signal.h>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <future>

#include "daemon/cli.h"
#include "daemon/control_socket.h"
#include "daemon/import_jobs.h"
#include "daemon/instance_lock.h"
#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "daemon/status_json.h"
#include "daemon/status_page.h"
#include "daemon/remote_credentials.h"
#include "daemon/service_notifier.h"
#include "sync/remote_auth.h"
#include "sync/socket_stream.h"
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

// The config and engine in effect. A reload swaps the pointer; readers copy it. The mutex is
// held only for that, never across a call that can wait (a pass, an engine stop).
class CurrentConfig {
 public:
  std::shared_ptr<RunningConfig> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return rc_;
  }
  void Set(std::shared_ptr<RunningConfig> rc) {
    std::lock_guard<std::mutex> lock(mu_);
    rc_ = std::move(rc);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<RunningConfig> rc_;
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
    auto server = HttpServer::Start(o, [this](const HttpRequest& r) { return Handle(r); });
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

Result<std::shared_ptr<RunningConfig>> StartConfig(Config config) {
  auto rc = std::make_shared<RunningConfig>();
  rc->config = std::move(config);
  rc->store = OpenStoreIfPresent(rc->config.daemon);
  Status tls = ConfigureTls(rc->config.daemon.ca_file);
  if (!tls.ok()) return tls;
  rc->webhook_policies = WebhookPolicies(rc->config, rc->store ? &*rc->store : nullptr);
  RunningConfig* raw = rc.get();
  SocketStreamOptions streams;
  streams.io_timeout = rc->config.daemon.io_timeout;
  SetSocketStreamOptions(streams);
  EngineOptions options;
  options.workers = rc->config.daemon.workers;
  options.workers_per_remote = rc->config.daemon.workers_per_remote;
  options.io_timeout = rc->config.daemon.io_timeout;
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

std::string HandleControl(const CurrentConfig& current, HttpFrontend* http, ImportJobs* jobs,
                          const std::string& request) {
  std::shared_ptr<RunningConfig> rc = current.Get();  // a reload may swap it meanwhile
  SyncEngine& engine = *rc->engine;
  if (request.rfind("import-", 0) == 0) {
    std::string answer = HandleImportControl(jobs, rc->config, request);
    if (!answer.empty()) return answer;
  }
  if (request == "reload-webhook-tokens") {
    if (http) http->Use(*rc);
    return json::serialize(json::object{{"ok", true}, {"listener", http != nullptr}});
  }
  if (request.rfind("sync-now ", 0) == 0) {
    std::string name = request.substr(9);
    auto r = engine.SyncNow(name, kSyncNowWait);
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

// What a SIGHUP does, on a thread of its own so the main loop keeps pinging the watchdog and
// taking signals: load the new config, stop the old engine (passes get the engine's grace
// period, then their I/O is cancelled), start the new one. A rejected or failing config leaves
// the previous one running. Returns the STATUS line, or nullopt when nothing can run.
std::optional<std::string> Reload(const CliContext& ctx, CurrentConfig* current, HttpFrontend* http,
                                  const std::atomic<bool>* shutting_down) {
  spdlog::info("reloading config {}", ctx.config_dir);
  std::shared_ptr<RunningConfig> old = current->Get();
  auto fresh = ctx.LoadConfigOrReport();
  if (!fresh) {
    spdlog::error("new config rejected; the running config stays in effect");
    return "reload rejected; " + Summary(old->config);
  }
  old->engine->Stop();
  if (*shutting_down) return Summary(old->config);
  auto next = StartConfig(std::move(*fresh));
  if (!next.ok()) {
    spdlog::error("reload failed: {}; restarting the previous config", next.status().message());
    next = StartConfig(old->config);
    if (!next.ok()) {
      spdlog::error("cannot restart the previous config: {}", next.status().message());
      return std::nullopt;
    }
  }
  std::shared_ptr<RunningConfig> rc = std::move(next).value();
  current->Set(rc);
  if (http) {
    http->Use(*rc);
  } else if (WantsListener(rc->config)) {
    spdlog::warn("the new config enables webhooks or `listen`; the listener starts at the next restart");
  }
  spdlog::info("reloaded: {}", Summary(rc->config));
  return Summary(rc->config);
}

// Waits for `done` while still pinging the watchdog (a stop that cancels hung passes takes
// a moment; systemd must not take that for a hang).
template <class T>
T WaitPinging(std::future<T>& done, ServiceNotifier& notifier, std::chrono::microseconds watchdog) {
  auto slice = watchdog.count() > 0 ? std::min<std::chrono::microseconds>(watchdog, std::chrono::seconds(1))
                                    : std::chrono::microseconds(std::chrono::seconds(1));
  while (done.wait_for(slice) != std::future_status::ready) {
    if (watchdog.count() > 0) notifier.WatchdogPing();
  }
  return done.get();
}

int Run(CliContext& ctx) {
  auto config = ctx.LoadConfigOrReport();
  if (!config) return kExitUserError;
  SetupLogging(ctx.log_level.empty() ? config->daemon.log_level : ctx.log_level, config->daemon.log_format);
  std::error_code ec;
  std::filesystem::create_directories(config->daemon.state_dir, ec);
  if (ec) return UserError("cannot create state_dir " + config->daemon.state_dir + ": " + ec.message());
  // Before anything else touches the state directory: a second daemon on it would replace
  // the control socket and remove the first one's libgit2 locks as stale.
  auto instance = InstanceLock::Acquire(config->daemon.state_dir);
  if (!instance.ok()) return UserError(instance.status().message());

  // Signals are taken synchronously by this thread; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto started = StartConfig(std::move(*config));
  if (!started.ok()) return UserError(started.status().message());
  CurrentConfig current;
  current.Set(std::move(started).value());
  std::shared_ptr<RunningConfig> first = current.Get();
  ImportJobs import_jobs;
  std::unique_ptr<HttpFrontend> http;
  if (WantsListener(first->config)) {
    http = std::make_unique<HttpFrontend>(first->config.daemon);
    http->Use(*first);
    http->SetImportJobs(&import_jobs);
    if (first->config.daemon.listen.admin_token.present()) {
      auto token = ResolveSecret(first->config.daemon.listen.admin_token, first->store ? &*first->store : nullptr,
                                 first->config.dir);
      if (!token.ok()) {
        first->engine->Stop();
        return UserError(token.status().WithContext("listen.admin_token").message());
      }
      http->SetAdminToken(*token);
    }
    Status listening = http->Start(first->config.daemon.listen);
    if (!listening.ok()) {
      first->engine->Stop();
      return UserError(listening.message());
    }
  }
  std::string socket_path = ControlSocketPath(first->config.daemon.state_dir);
  auto control = ControlServer::Start(socket_path, [&](const std::string& req) {
    return HandleControl(current, http.get(), &import_jobs, req);
  });
  if (!control.ok()) return UserError(control.status().message());
  if (http) http->SetReady(true);

  ServiceNotifier notifier;
  spdlog::info("gitsyncd running: {} (config {})", Summary(first->config), ctx.config_dir);
  notifier.Ready(Summary(first->config));
  first.reset();
  auto watchdog = ServiceNotifier::WatchdogInterval();
  timespec tick{1, 0};
  if (watchdog.count() > 0 && watchdog < std::chrono::seconds(1)) {
    tick = {0, static_cast<long>(watchdog.count() * 1000)};
  }
  std::atomic<bool> shutting_down{false};
  std::future<std::optional<std::string>> reload;  // valid while a reload runs
  bool reload_again = false;  // a SIGHUP came during a reload: run another after it
  int exit_code = kExitOk;
  auto start_reload = [&] {
    notifier.Reloading();
    reload = std::async(std::launch::async, Reload, std::cref(ctx), &current, http.get(), &shutting_down);
  };
  for (;;) {
    siginfo_t info{};
    int sig = sigtimedwait(&signals, &info, &tick);
    if (watchdog.count() > 0) notifier.WatchdogPing();
    if (reload.valid() && reload.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      auto status = reload.get();
      if (!status) {
        exit_code = kExitUserError;
        break;
      }
      notifier.Ready(*status);
      if (std::exchange(reload_again, false)) start_reload();
    }
    if (sig < 0) continue;
    if (sig == SIGHUP) {
      if (reload.valid()) {
        reload_again = true;
      } else {
        start_reload();
      }
      continue;
    }
    spdlog::info("stopping (signal {})", sig);
    notifier.Stopping();
    break;
  }
  shutting_down = true;
  if (http) http->SetReady(false);
  auto stopped = std::async(std::launch::async, [&] {
    if (reload.valid()) reload.get();
    current.Get()->engine->Stop();  // answers a waiting sync-now, so the control thread is free
    control->reset();
    if (http) http->Stop();
  });
  WaitPinging(stopped, notifier, watchdog);
  spdlog::info("stopped");
  return exit_code;
}

}  // namespace

void RegisterRunCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("run", "Run the daemon: sync every binding until stopped (SIGHUP reloads)");
  cmd->callback([&ctx] { ctx.action = [&ctx] { return Run(ctx); }; });
}

}  // namespace gitsyncd
