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
#include "daemon/http_frontend.h"
#include "daemon/import_jobs.h"
#include "daemon/logging.h"
#include "daemon/remote_credentials.h"
#include "daemon/service_notifier.h"
#include "sync/remote_auth.h"
#include "sync/sync_engine.h"
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

void UseConfig(HttpFrontend* http, const RunningConfig& rc) {
  http->Use(rc.config, rc.engine, rc.webhook_policies);
}

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
    if (http) UseConfig(http, **current);
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
    http = std::make_unique<HttpFrontend>(current->config.daemon, &import_jobs);
    UseConfig(http.get(), *current);
    Status listening = http->Start(current->config, current->store ? &*current->store : nullptr);
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
        UseConfig(http.get(), *current);
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
