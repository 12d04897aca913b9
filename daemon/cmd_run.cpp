// `gitsyncd run`: the daemon. Loads the config, starts the sync engine and the control
// socket, tells systemd it is ready, and handles signals: SIGHUP reloads (a broken new
// config is rejected and the old one keeps running), SIGTERM/SIGINT stop: in-flight passes
// get a short grace period, then their network I/O is cancelled. The main thread only waits
// for signals and pings the watchdog; it never waits on a pass.
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <future>

#include "api/io_cancel.h"
#include "daemon/binding_control.h"
#include "daemon/cli.h"
#include "daemon/commit_status_reporter.h"
#include "daemon/config_source_link.h"
#include "daemon/control_socket.h"
#include "daemon/fleet_link.h"
#include "daemon/fleet_relay.h"
#include "daemon/http_frontend.h"
#include "import/import_jobs.h"
#include "daemon/instance_lock.h"
#include "daemon/logging.h"
#include "daemon/managed_webhooks.h"
#include "sync/remote_credentials.h"
#include "daemon/service_notifier.h"
#include "cluster/selectors.h"
#include "config/config_source.h"
#include "sync/remote_auth.h"
#include "sync/socket_stream.h"
#include "sync/sync_engine.h"
#include "webhooks/webhook_verifier.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;

struct RunningConfig {
  Config config;
  std::optional<SecretStore> store;
  std::unique_ptr<CommitStatusReporter> statuses;  // outlives the engine, whose passes feed it
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

// webhook.manage: after each start and reload the hooks are made sure of on a thread of their
// own (provider APIs can be slow; nothing waits for them). The listener learns a first URL token
// before any hook delivers to it. Failures are logged; the next reload tries again. A stop
// cancels a job's requests and rate-limit waits.
class HookKeeper {
 public:
  explicit HookKeeper(HttpFrontend** http) : http_(http) {}
  ~HookKeeper() {
    cancel_->Cancel();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& j : jobs_) j.wait();
  }
  void Start(std::shared_ptr<RunningConfig> rc) {
    bool any = false;
    for (const auto& c : rc->config.connectors) any = any || c.webhook.manage;
    if (!any) return;
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(jobs_, [](auto& j) { return j.wait_for(std::chrono::seconds(0)) == std::future_status::ready; });
    jobs_.push_back(std::async(std::launch::async, [this, rc] {
      ScopedIoCancel scope(cancel_);
      Ensure(*rc);
    }));
  }

 private:
  void Ensure(RunningConfig& rc) {
    SecretStore* store = rc.store ? &*rc.store : nullptr;
    for (const auto& c : rc.config.connectors) {
      if (c.webhook.manage) (void)WebhookUrlToken(rc.config.daemon, store, ConnectorId(c.name), c.name, true);
    }
    if (*http_) UseConfig(*http_, rc);
    for (const auto& c : rc.config.connectors) {
      if (!c.webhook.manage) continue;
      for (const auto& o : SyncConnectorHooks(rc.config, c, store, HookAction::kRegister, false)) {
        for (const auto& line : o.changes.actions) spdlog::info("webhook of '{}': {}", c.name, line);
        if (!o.status.ok()) spdlog::error("webhook of '{}' in {}: {}", c.name, o.repo, o.status.message());
      }
    }
  }
  HttpFrontend** http_;
  std::shared_ptr<IoCancel> cancel_ = std::make_shared<IoCancel>();
  std::mutex mu_;
  std::vector<std::future<void>> jobs_;
};

std::optional<SecretStore> OpenStoreIfPresent(const DaemonConfig& daemon) {
  auto store = SecretStore::OpenForDaemon(daemon);
  if (store.ok()) return std::move(store).value();
  if (store.status().code() != Status::Code::kNotFound) spdlog::warn("secret store: {}", store.status().message());
  return std::nullopt;
}

// `fleet`: in a fleet, the engine runs only the connectors this instance's selectors pick, and
// of their exclusive bindings only those it owns now (ApplyOwnership; before the fleet has
// started, none).
Result<std::shared_ptr<RunningConfig>> StartConfig(Config config, const Fleet* fleet) {
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
  bool report = false;
  for (const auto& c : rc->config.connectors) report = report || c.report_status;
  if (report) rc->statuses = std::make_unique<CommitStatusReporter>(rc->config, rc->store ? &*rc->store : nullptr);
  bool config_source = rc->config.daemon.config_source.configured;
  if (config_source) options.tree_checks[kConfigSourceName] = ConfigSourceCheck(rc->config.dir);
  if (report || config_source) {
    options.on_pass = [raw](const PassEvent& e) {
      if (raw->statuses) raw->statuses->OnPass(e);
      if (ConfigSourceApplied(e)) {
        spdlog::info("config source: connectors.d now holds commit {}; reloading", e.synced_remote_commit);
        RequestReload();
      }
    };
  }
  rc->engine = std::make_shared<SyncEngine>(
      ServedConfig(rc->config),
      [raw](const ConnectorConfig& c, const SyncBinding& s) {
        return ResolveRemoteCredentials(raw->config, c, s.remote_url, raw->store ? &*raw->store : nullptr);
      },
      options);
  if (rc->config.daemon.cluster.configured) {
    ApplyOwnership(rc->config, *rc->engine, fleet ? fleet->Owned() : std::set<std::string>());
  }
  Status s = rc->engine->Start();
  if (!s.ok()) return s;
  return rc;
}

std::string HandleControl(const CurrentConfig& current, HttpFrontend* http, ImportJobs* jobs,
                          const std::string& request) {
  std::shared_ptr<RunningConfig> rc = current.Get();  // a reload may swap it meanwhile
  SyncEngine& engine = *rc->engine;
  if (std::string answer = jobs->HandleControlLine(rc->config, request); !answer.empty()) return answer;
  if (request == "reload-webhook-tokens") {
    if (http) UseConfig(http, *rc);
    return json::serialize(json::object{{"ok", true}, {"listener", http != nullptr}});
  }
  if (std::string answer = HandleBindingControl(engine, request); !answer.empty()) return answer;
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
                                  const std::atomic<bool>* shutting_down, HookKeeper* hooks, const Fleet* fleet) {
  spdlog::info("reloading config {}", ctx.config_dir);
  std::shared_ptr<RunningConfig> old = current->Get();
  auto fresh = ctx.LoadConfigOrReport();
  if (!fresh) {
    spdlog::error("new config rejected; the running config stays in effect");
    return "reload rejected; " + Summary(old->config);
  }
  old->engine->Stop();
  if (*shutting_down) return Summary(old->config);
  auto next = StartConfig(std::move(*fresh), fleet);
  if (!next.ok()) {
    spdlog::error("reload failed: {}; restarting the previous config", next.status().message());
    next = StartConfig(old->config, fleet);
    if (!next.ok()) {
      spdlog::error("cannot restart the previous config: {}", next.status().message());
      return std::nullopt;
    }
  }
  std::shared_ptr<RunningConfig> rc = std::move(next).value();
  current->Set(rc);
  // An ownership change while the new engine started went to the old one.
  if (fleet && rc->config.daemon.cluster.configured) ApplyOwnership(rc->config, *rc->engine, fleet->Owned());
  if (http) {
    UseConfig(http, *rc);
  } else if (WantsListener(rc->config)) {
    spdlog::warn("the new config enables webhooks or `listen`; the listener starts at the next restart");
  }
  hooks->Start(rc);
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

// Signals are taken synchronously by the main thread; they are blocked before any thread
// starts, so every thread inherits the mask.
sigset_t BlockStopAndReloadSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// How long the main loop waits for a signal: a second, or less when the watchdog wants
// pings more often.
timespec SignalWaitTick(std::chrono::microseconds watchdog) {
  if (watchdog.count() > 0 && watchdog < std::chrono::seconds(1)) return {0, static_cast<long>(watchdog.count() * 1000)};
  return {1, 0};
}

// The fleet (none without `cluster:`), its callbacks reading whatever config is current.
auto JoinFleet(CurrentConfig& current, RunningConfig& first, FleetRelay* relay) {
  return StartFleet(first.config, first.store ? &*first.store : nullptr,
                          {[&current] {
                             auto rc = current.Get();
                             return FleetBindings(rc->config, *rc->engine);
                           },
                           [&current, relay](const FleetPush& p) {
                             auto rc = current.Get();
                             if (relay) {
                               relay->Consume(rc->config, rc->engine, p);
                             } else {
                               TriggerFleetPush(rc->config, *rc->engine, p);
                             }
                           },
                           [&current] { return ExclusiveCandidates(current.Get()->config); },
                           [&current](const std::set<std::string>& owned) {
                             auto rc = current.Get();
                             ApplyOwnership(rc->config, *rc->engine, owned);
                           },
                           [&current, relay](const std::string& remote, const std::string& branch) {
                             auto rc = current.Get();
                             return relay != nullptr && ServesBranch(rc->config, *rc->engine, remote, branch);
                           }});
}

// The HTTP listeners; a delivery in a fleet is also published for the other instances.
// With a relay, the push waits for this instance's own fetch (docs/fleet.md, "Relayed objects").
Result<std::unique_ptr<HttpFrontend>> StartListener(CurrentConfig& current, RunningConfig& first, ImportJobs* jobs,
                                                    Fleet* fleet, FleetRelay* relay) {
  auto http = std::make_unique<HttpFrontend>(first.config.daemon, jobs);
  if (fleet) http->SetTrigger([&current, fleet, relay](const std::string& binding, const std::string& reason,
                                                       const std::string& commit) {
    auto rc = current.Get();
    auto asked = std::chrono::steady_clock::now();
    bool here = rc->engine->TriggerRemote(binding, reason, asked);  // false: another instance serves it
    FleetPush push = PushForBinding(rc->config, binding, reason, commit);
    if (relay && here) {
      relay->Produce(rc->engine, binding, asked, std::move(push), fleet);
    } else {
      fleet->Publish(std::move(push));
    }
    return true;
  });
  if (fleet) http->SetFleetView([fleet] { return FleetViewJson(*fleet); });
  UseConfig(http.get(), first);
  Status listening = http->Start(first.config, first.store ? &*first.store : nullptr);
  if (!listening.ok()) return listening;
  return http;
}

// Pings the watchdog and runs reloads (one at a time; a SIGHUP during one queues another)
// until SIGTERM or SIGINT, or a reload that cannot go on; returns the exit code.
int WaitForStop(const sigset_t& signals, std::chrono::microseconds watchdog, ServiceNotifier& notifier,
                std::future<std::optional<std::string>>& reload, const std::function<void()>& start_reload) {
  timespec tick = SignalWaitTick(watchdog);
  bool reload_again = false;
  int exit_code = kExitOk;
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
  return exit_code;
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

  sigset_t signals = BlockStopAndReloadSignals();

  auto started = StartConfig(std::move(*config), nullptr);
  if (!started.ok()) return UserError(started.status().message());
  CurrentConfig current;
  current.Set(std::move(started).value());
  std::shared_ptr<RunningConfig> first = current.Get();
  ImportJobs import_jobs;
  auto relay = FleetRelay::Start(first->config, first->store ? &*first->store : nullptr);
  if (!relay.ok()) return UserError(relay.status().message());
  auto fleet = JoinFleet(current, *first, relay->get());
  if (!fleet.ok()) return UserError(fleet.status().message());
  std::unique_ptr<HttpFrontend> http;
  HttpFrontend* http_raw = nullptr;  // the hook keeper's view of the listener, once it runs
  HookKeeper hook_keeper(&http_raw);
  if (WantsListener(first->config)) {
    auto started_http = StartListener(current, *first, &import_jobs, fleet->get(), relay->get());
    if (!started_http.ok()) {
      first->engine->Stop();
      return UserError(started_http.status().message());
    }
    http = std::move(started_http).value();
  }
  std::string socket_path = ControlSocketPath(first->config.daemon.state_dir);
  auto control = ControlServer::Start(socket_path, [&](const std::string& req) {
    return HandleControl(current, http.get(), &import_jobs, req);
  });
  if (!control.ok()) return UserError(control.status().message());
  if (http) http->SetReady(true);
  http_raw = http.get();
  hook_keeper.Start(current.Get());

  ServiceNotifier notifier;
  spdlog::info("gitsyncd running: {} (config {})", Summary(first->config), ctx.config_dir);
  notifier.Ready(Summary(first->config));
  first.reset();
  auto watchdog = ServiceNotifier::WatchdogInterval();
  std::atomic<bool> shutting_down{false};
  std::future<std::optional<std::string>> reload;  // valid while a reload runs
  auto start_reload = [&] {
    notifier.Reloading();
    reload = std::async(std::launch::async, Reload, std::cref(ctx), &current, http.get(), &shutting_down,
                        &hook_keeper, fleet->get());
  };
  int exit_code = WaitForStop(signals, watchdog, notifier, reload, start_reload);
  shutting_down = true;
  if (http) http->SetReady(false);
  auto stopped = std::async(std::launch::async, [&] {
    if (reload.valid()) reload.get();
    current.Get()->engine->Stop();  // answers a waiting sync-now, so the control thread is free
    control->reset();
    if (http) http->Stop();
    if (*relay) (*relay)->Stop();  // the fleet's watch may still call it: it then takes no relay
    fleet->reset();  // leaves the fleet: revokes the membership lease
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
