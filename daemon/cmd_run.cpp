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
#include "daemon/logging.h"
#include "daemon/remote_credentials.h"
#include "daemon/service_notifier.h"
#include "sync/remote_auth.h"
#include "sync/sync_engine.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;

struct RunningConfig {
  Config config;
  std::optional<SecretStore> store;
  std::unique_ptr<SyncEngine> engine;
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
  RunningConfig* raw = rc.get();
  EngineOptions options;
  options.workers = rc->config.daemon.workers;
  rc->engine = std::make_unique<SyncEngine>(
      rc->config,
      [raw](const ConnectorConfig& c, const SyncBinding& s) {
        return ResolveRemoteCredentials(raw->config, c, s.remote_url, raw->store ? &*raw->store : nullptr);
      },
      options);
  Status s = rc->engine->Start();
  if (!s.ok()) return s;
  return rc;
}

std::string HandleControl(RunningConfig* const* current, std::mutex* mu, const std::string& request) {
  std::lock_guard<std::mutex> lock(*mu);
  SyncEngine& engine = *(*current)->engine;
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
  if (ctx.log_level.empty()) SetupLogging(config->daemon.log_level);
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
  std::string socket_path = ControlSocketPath(current->config.daemon.state_dir);
  auto control = ControlServer::Start(socket_path, [&](const std::string& req) {
    return HandleControl(&current_raw, &control_mu, req);
  });
  if (!control.ok()) return UserError(control.status().message());

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
      notifier.Ready(Summary(current->config));
      spdlog::info("reloaded: {}", Summary(current->config));
      continue;
    }
    spdlog::info("stopping (signal {})", sig);
    notifier.Stopping();
    break;
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
