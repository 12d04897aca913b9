// Runs every sync binding of a Config: a pool of worker threads does the blocking Git work,
// one binding's passes never overlap (each binding is queued at most once), and bindings
// proceed in parallel. Triggers (local edits, sync-now, polling, webhooks) coalesce: a
// trigger while a pass is queued is absorbed; a trigger while a pass runs schedules exactly
// one more. Failures back off exponentially with jitter (1 s to 5 min), never busy-looping.
// A remote (host and port) holds at most `workers_per_remote` workers, so passes hung on one
// silent server never keep other remotes' bindings waiting.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <array>
#include <optional>

#include "config/config.h"
#include "base/status.h"
#include "sync/binding_state.h"
#include "sync/remote_auth.h"
#include "sync/sync_pass.h"

namespace gitsyncd {

// One finished pass, as the status page lists it.
struct PassRecord {
  std::string time;              // when it ended, ISO 8601 UTC
  std::string direction;         // push, pull, merge or none (PassOutcome::direction); "" when it failed
  std::string commit;            // the binding's last synced commit after the pass
  bool ok = false;
  std::string result;            // the outcome summary, or the error
  double duration_s = 0;
};

struct EngineBindingStatus {
  std::string name;
  std::string connector;
  bool running = false;
  bool queued = false;
  bool paused = false;  // `gitsyncd pause`: no pass runs until resumed
  bool elsewhere = false;  // an exclusive binding another instance of the fleet runs now
  uint64_t passes = 0;         // passes finished since the engine started
  uint32_t failures = 0;       // consecutive failures
  std::string last_outcome;    // summary of the last successful pass
  std::string last_error;
  double next_retry_in_s = 0;  // > 0 while backing off
  // For metrics: totals since the engine started, and pass durations as a histogram.
  uint64_t errors_total = 0;
  double last_success_unix = 0;  // 0 = none yet
  static constexpr std::array<double, 11> kDurationBounds{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  std::array<uint64_t, 12> duration_buckets{};  // per bound, last = +Inf (not cumulative)
  double duration_sum_s = 0;
  double last_pass_seconds = 0;
  double last_pass_pushed_after_s = 0;  // start of the last pass -> the remote accepted its push (0: none)
  bool last_pass_incremental = false;   // decided from the watcher's paths, no full scan
  // The binding's state.json as of its last pass (read on the worker thread after the pass),
  // so status pages never touch the disk.
  std::optional<BindingState> state;
  // The last passes, oldest first; memory only (a restart starts an empty list).
  static constexpr size_t kPassHistory = 20;
  std::vector<PassRecord> recent_passes;
};

// What a pass that reached the remote (or failed) did, for observers (commit statuses).
struct PassEvent {
  std::string binding, connector;
  bool ok = false;
  std::string direction;  // PassOutcome::direction; "" when the pass failed
  std::string summary;    // PassOutcome::summary, or the error
  std::optional<BindingState> state;  // after the pass, when readable
  // The remote's commit the folder now matches (fetch: api bindings keep a local stand-in in
  // state->last_synced_commit); "" when unknown.
  std::string synced_remote_commit;
  // The remote's commit this pass refused (state->refused says why); "" when it refused none.
  std::string refused_remote_commit;
  // The remote's commit the newest conflict (state->conflicts.back()) merged with; "" if none.
  std::string conflict_remote_commit;
};

struct EngineOptions {
  unsigned workers = 4;
  std::chrono::milliseconds debounce_quiet{300};
  std::chrono::milliseconds debounce_max{3000};
  // The safety net behind inotify: a full scan of each folder the watcher does not see
  // whole (not watched, a watch lost, a network file system) every rescan_interval; of one it
  // sees whole, every watched_rescan_interval.
  std::chrono::seconds rescan_interval{60};
  std::chrono::seconds watched_rescan_interval{1800};
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{300000};
  // A remote pass requested while a remote pass runs (webhook deliveries in a burst) starts
  // this long after that pass ends; 0 = at once.
  std::chrono::milliseconds remote_rerun_gap{50};
  // Passes of bindings on one remote running at once; 0 = half the workers (at least one).
  unsigned workers_per_remote = 0;
  // A pass's connection on which no data moved for this long (plus a margin: HTTPS reads time
  // out by themselves first) is shut down; this bounds SSH remotes, whose socket libssh2 reads.
  std::chrono::milliseconds io_timeout{30000};
  // Stop() lets running passes finish for this long, then cancels their network I/O.
  std::chrono::milliseconds stop_grace{2000};
  // Called on the worker after each such pass, with no lock held; must not block.
  std::function<void(const PassEvent&)> on_pass;
  // By binding name: BindingSpec::check_tree of that binding (the config source's check-config).
  std::map<std::string, decltype(BindingSpec::check_tree)> tree_checks;
};

class SyncEngine {
 public:
  using CredentialResolver =
      std::function<Result<RemoteCredentials>(const ConnectorConfig&, const SyncBinding&)>;

  SyncEngine(const Config& config, CredentialResolver resolver, EngineOptions options = {});
  ~SyncEngine();  // Stop()
  SyncEngine(const SyncEngine&) = delete;
  SyncEngine& operator=(const SyncEngine&) = delete;

  // Starts workers, the folder watcher and the scheduler, and queues a first pass of every
  // binding. A binding whose credentials cannot be resolved is reported, not started.
  Status Start();
  // Stops taking work and waits for running passes: they get `stop_grace` to finish (cheaper
  // than redoing them), then their network I/O is cancelled and they fail at once (an
  // interrupted pass is safe: the next one finishes its work). Local disk work is not cut.
  void Stop();

  // False when no binding has that name. `asked`: when the trigger came (zero: now); the pass
  // takes a fetch of the remote's shared store begun at or after it (or a relayed head
  // recorded as of it, sync/shared_store.h AcceptRelayedHead).
  bool TriggerRemote(const std::string& binding, const std::string& reason,
                     std::chrono::steady_clock::time_point asked = {});
  bool TriggerLocal(const std::string& binding);
  // Triggers a full pass and waits for it; returns its outcome summary or error.
  Result<std::string> SyncNow(const std::string& binding, std::chrono::milliseconds timeout);

  // `sync-now --dry-run`: plans a pass (PlanSyncPass) on the calling thread once no pass of
  // the binding runs, holding its passes back meanwhile; changes nothing.
  Result<PassPlan> DryRun(const std::string& binding, std::chrono::milliseconds timeout);
  // Pause and resume. A paused binding runs no pass (triggers are dropped; the watcher goes on
  // collecting local edits) and the pause is kept in its state.json across restarts; resume
  // queues a full pass, which syncs everything that changed meanwhile on either side. Waits
  // for a running pass to end first.
  Status SetPaused(const std::string& binding, bool paused, std::chrono::milliseconds timeout);
  // Applies `edit` to the binding's state.json while no pass of it runs (waiting up to
  // `timeout` for a running one), so the daemon stays the only writer of its state; `edit`
  // may also use the binding's repository and remote (resolving a conflict deletes its
  // branch). The engine's copy of the state is refreshed.
  using StateEdit = std::function<Status(const BindingSpec&, BindingState&)>;
  Status EditState(const std::string& binding, const StateEdit& edit, std::chrono::milliseconds timeout);

  // A fleet's exclusive binding runs on one instance at a time (docs/fleet.md): while
  // `elsewhere`, no pass of it starts here (a running one finishes, queued ones are dropped);
  // back here, a full pass runs at once. Memory only; may be called before Start(). False
  // when no binding has that name.
  bool SetRunElsewhere(const std::string& binding, bool elsewhere);

  // The binding's spec (its shared store, connector, credentials); nullopt when no binding of
  // that name can run.
  std::optional<BindingSpec> Spec(const std::string& binding) const;

  std::vector<EngineBindingStatus> Snapshot() const;
  size_t QueueDepth() const;  // bindings waiting for a worker
  std::vector<std::string> BindingNames() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gitsyncd
