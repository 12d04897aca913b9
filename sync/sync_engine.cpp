#include "sync/sync_engine.h"

#include "sync/api_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "api/io_cancel.h"
#include "config/log_context.h"
#include "sync/local_watcher.h"
#include "sync/sync_pass.h"

namespace gitsyncd {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxChangedPaths = 5000;
constexpr std::chrono::seconds kIdleMargin{2};

// What `workers_per_remote` counts by: host:port for network remotes, the whole URL otherwise.
std::string RemoteKey(const std::string& url) {
  if (url.rfind("file://", 0) == 0) return url;
  std::string host;
  int port = 0;
  ParseHostPort(url, &host, &port);
  return host + ":" + std::to_string(port);
}

struct BindingRuntime {
  BindingSpec spec;
  std::string connector;
  std::string remote;  // RemoteKey of its URL
  Status setup;  // credentials could not be resolved: never runs
  bool queued = false, running = false, rerun = false;
  bool paused = false;  // no pass starts; kept in state.json
  bool held = false;    // EditState is changing state.json: no pass starts
  bool elsewhere = false;  // SetRunElsewhere: another fleet instance runs it; no pass starts
  // A pause or resume not yet written to state.json (the scheduler writes it once the
  // binding is idle); pause_saved is the last write's result.
  std::optional<bool> pause_to_save;
  // Requests are numbered; pause_saved_upto is the newest request whose value is on disk, so
  // a save already under way when a request comes never counts for it.
  uint64_t pause_requests = 0, pause_saved_upto = 0;
  Status pause_saved;
  bool want_remote = false;  // the queued pass must contact the remote
  // The latest remote trigger: a fetch of the remote's shared store begun since then answers
  // the pass that takes it (so one webhook costs one fetch for all the remote's bindings).
  Clock::time_point remote_asked{};
  Clock::time_point last_pass_end{};  // a fetch begun before it may miss the binding's own push
  uint64_t passes = 0;
  uint32_t failures = 0;
  std::string last_outcome, last_error;
  uint64_t errors_total = 0;
  double last_success_unix = 0;
  std::array<uint64_t, 12> duration_buckets{};
  double duration_sum_s = 0;
  std::optional<BindingState> state;
  Clock::time_point retry_at{};  // zero = no retry scheduled
  // A remote pass asked for while a remote pass ran starts no sooner than this (zero = none
  // deferred); triggers until then join it.
  Clock::time_point rerun_at{};
  std::chrono::seconds poll_interval{0};
  Clock::time_point next_poll{};
  // What the next pass may trust instead of scanning the whole folder: the paths the watcher
  // reported since the running (or last) pass began, complete while no event was lost, and
  // whether that pass left the folder in step with the synced commit.
  std::set<std::string> changed_paths;
  bool changes_complete = false;
  bool in_step = false;
  Clock::time_point next_full_rescan{};  // the periodic rescan's next full scan of a watched folder
  bool full_scan = false;  // the queued pass scans in full (the periodic safety net)
  double last_pass_seconds = 0;
  double last_pass_pushed_after_s = 0;
  bool last_pass_incremental = false;
  std::deque<PassRecord> recent_passes;  // at most EngineBindingStatus::kPassHistory
};

}  // namespace

struct SyncEngine::Impl {
  using StateEdit = SyncEngine::StateEdit;
  EngineOptions options;
  std::map<std::string, BindingRuntime> bindings;
  mutable std::mutex mu;
  std::condition_variable work_cv, sched_cv, done_cv;
  std::deque<std::string> queue;
  bool stopping = false;
  std::vector<std::thread> workers;
  std::thread scheduler;
  std::unique_ptr<LocalWatcher> watcher;
  std::mt19937 rng{std::random_device{}()};
  Clock::time_point next_rescan{};
  std::map<std::string, unsigned> running_per_remote;
  unsigned per_remote_limit = 1;
  size_t running = 0;
  // Every worker's network I/O; cancelled once by Stop() after the grace period.
  std::shared_ptr<IoCancel> cancel = std::make_shared<IoCancel>();

  // Caller holds mu. The first queued binding whose remote has a free worker slot.
  std::deque<std::string>::iterator NextRunnable() {
    return std::find_if(queue.begin(), queue.end(), [&](const std::string& name) {
      const BindingRuntime& b = bindings.at(name);
      return !b.held && running_per_remote[b.remote] < per_remote_limit;
    });
  }

  // Caller holds mu.
  // `asked`: when the remote trigger came (zero: now).
  void Enqueue(BindingRuntime& b, const std::string& name, bool remote, bool full_scan = false,
               Clock::time_point asked = {}) {
    if (!b.setup.ok() || stopping || b.paused || b.elsewhere) return;
    b.want_remote = b.want_remote || remote;
    if (remote) b.remote_asked = asked == Clock::time_point{} ? Clock::now() : std::max(b.remote_asked, asked);
    b.full_scan = b.full_scan || full_scan;
    if (b.rerun_at != Clock::time_point{}) return;  // the deferred pass will do it
    if (b.running) {
      b.rerun = true;
      return;
    }
    if (b.queued) return;
    b.queued = true;
    queue.push_back(name);
    work_cv.notify_one();
  }

  // Caller holds mu. Drops the binding's queued, deferred and retry passes (a running one
  // finishes).
  void Unqueue(BindingRuntime& b, const std::string& name) {
    queue.erase(std::remove(queue.begin(), queue.end(), name), queue.end());
    b.queued = b.rerun = false;
    b.rerun_at = b.retry_at = {};
  }

  void NoteLocalChanges(const std::string& name, LocalChanges changes) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = bindings.find(name);
    if (it == bindings.end()) return;
    BindingRuntime& b = it->second;
    b.changed_paths.merge(changes.paths);
    // Past a few thousand paths a full scan is as cheap, and memory stays bounded however
    // long the remote is away.
    if (!changes.complete || b.changed_paths.size() > kMaxChangedPaths) {
      b.changes_complete = false;
      b.changed_paths.clear();
    }
    // A pull binding pushes nothing: its local edits wait for the next remote pass (which keeps
    // them); the watcher is there so that pass can look at the changed paths alone.
    if (b.spec.direction != SyncDirection::kPull) Enqueue(b, name, false);
  }

  std::chrono::milliseconds Backoff(uint32_t failures) {
    auto base = options.backoff_initial * (1u << std::min<uint32_t>(failures - 1, 16));
    auto capped = std::min<std::chrono::milliseconds>(base, options.backoff_max);
    // Jitter: 50%..100% of the delay, so many bindings do not retry in lockstep.
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return std::chrono::milliseconds(static_cast<long long>(static_cast<double>(capped.count()) * jitter(rng)));
  }

  // Tells the on_pass listener (commit statuses, the fleet) what a pass did, with the
  // remote's own commit ids.
  void NotifyPass(const std::string& name, const BindingSpec& spec, const Result<PassOutcome>& r,
                  const Result<BindingState>& state) {
    PassEvent e{name, spec.connector, r.ok(), r.ok() ? r->direction : "", r.ok() ? r->summary : r.status().message(),
                state.ok() ? std::optional<BindingState>(*state) : std::nullopt, "", "", ""};
    if (state.ok()) {
      // fetch: api bindings keep local stand-ins for the remote's commits.
      std::optional<ApiState> api;
      if (spec.api) api = LoadApiState(spec.binding_dir);
      auto remote_of = [&](const std::string& c) { return api && !c.empty() ? api->RemoteOf(c) : c; };
      e.synced_remote_commit = remote_of(state->last_synced_commit);
      e.refused_remote_commit = remote_of(state->refused.commit);
      if (!state->conflicts.empty()) e.conflict_remote_commit = remote_of(state->conflicts.back().remote_commit);
    }
    options.on_pass(e);
  }

  // The pass's result in the binding's runtime record (under mu): counters, durations, the
  // recent passes, and the retry time after a failure.
  void RecordPass(BindingRuntime& b, const std::string& name, bool local_only, const Result<PassOutcome>& r,
                  double seconds, Result<BindingState> state) {
    ++b.passes;
    size_t bucket = 0;
    while (bucket < EngineBindingStatus::kDurationBounds.size() && seconds > EngineBindingStatus::kDurationBounds[bucket]) {
      ++bucket;
    }
    ++b.duration_buckets[bucket];
    b.duration_sum_s += seconds;
    b.last_pass_seconds = seconds;
    b.last_pass_pushed_after_s = r.ok() ? r->pushed_after_s : 0;
    b.last_pass_incremental = r.ok() && r->incremental;
    b.in_step = r.ok() && r->folder_in_step;
    if (state.ok()) b.state = std::move(state).value();
    if (!local_only || !r.ok() || r->contacted_remote) {  // a local check that found nothing is no pass to list
      b.recent_passes.push_back(PassRecord{NowIso8601(), r.ok() ? r->direction : "", b.state ? b.state->last_synced_commit : "",
                                           r.ok(), r.ok() ? r->summary : r.status().message(), seconds});
      if (b.recent_passes.size() > EngineBindingStatus::kPassHistory) b.recent_passes.pop_front();
    }
    if (r.ok()) {
      if (r->contacted_remote && r->summary != "in sync") spdlog::info("sync '{}': {}", name, r->summary);
      b.failures = 0;
      b.last_success_unix = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
      b.last_outcome = r->summary;
      b.last_error.clear();
      b.retry_at = {};
    } else {
      ++b.failures;
      ++b.errors_total;
      b.last_error = r.status().message();
      auto delay = Backoff(b.failures);
      b.retry_at = Clock::now() + delay;
      spdlog::warn("sync '{}': {} (retry in {:.1f}s)", name, b.last_error, static_cast<double>(delay.count()) / 1000.0);
      sched_cv.notify_all();
    }
  }

  void Work() {
    ScopedIoCancel cancel_scope(cancel);
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      work_cv.wait(lock, [&] { return stopping || NextRunnable() != queue.end(); });
      if (stopping) return;
      auto next = NextRunnable();
      std::string name = *next;
      queue.erase(next);
      BindingRuntime& b = bindings.at(name);
      b.queued = false;
      b.running = true;
      ++running_per_remote[b.remote];
      if (running++ == 0) sched_cv.notify_all();  // the scheduler watches connections while passes run
      bool local_only = !b.want_remote;
      b.want_remote = false;
      // The watcher's paths stand for the folder only when it saw every change since the
      // last pass began and that pass left the folder in step; otherwise scan it all.
      bool watched = watcher && watcher->WatchesAll(name);
      std::optional<std::set<std::string>> hints;
      if (watched && b.changes_complete && b.in_step && !b.full_scan) hints = std::move(b.changed_paths);
      if (!hints) b.next_full_rescan = Clock::now() + options.watched_rescan_interval;  // this pass is one
      b.changed_paths.clear();
      b.changes_complete = watched;
      b.full_scan = false;
      BindingSpec spec = b.spec;
      // A local check fetches for itself; a remote pass takes any fetch begun after both its
      // trigger and the binding's previous pass (whose push that fetch then shows).
      auto fetch_not_before = local_only ? Clock::time_point{} : std::max(b.remote_asked, b.last_pass_end);
      ScopedLogContext log_context(name, b.connector);
      lock.unlock();
      spdlog::debug("sync '{}': {} pass starts{}", name, local_only ? "local" : "remote", hints ? "" : " (full scan)");
      auto started = Clock::now();
      Result<PassOutcome> r = RunSyncPass(spec, PassOptions{local_only, hints ? &*hints : nullptr, fetch_not_before});
      double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      auto state = LoadBindingState(spec.binding_dir);
      if (state.ok()) CurrentLogContext().commit = state->last_synced_commit;
      if (options.on_pass && (!local_only || !r.ok() || r->contacted_remote)) NotifyPass(name, spec, r, state);
      spdlog::debug("sync '{}': pass ends after {:.3f}s", name, seconds);
      lock.lock();
      b.running = false;
      b.last_pass_end = Clock::now();
      --running_per_remote[b.remote];
      --running;
      work_cv.notify_all();  // a binding held back by its remote's limit may run now
      if (b.pause_to_save) sched_cv.notify_all();
      RecordPass(b, name, local_only, r, seconds, std::move(state));
      if (b.rerun) {
        b.rerun = false;
        // Deliveries that came while a remote pass ran coalesce into one more fetch; keeping
        // such remote passes remote_rerun_gap apart stops a flood of deliveries for one
        // binding from running fetches back to back on a core of its own.
        if (!local_only && b.want_remote && options.remote_rerun_gap.count() > 0) {
          b.rerun_at = Clock::now() + options.remote_rerun_gap;
          sched_cv.notify_all();
        } else {
          Enqueue(b, name, b.want_remote);
        }
      }
      done_cv.notify_all();
    }
  }

  // Rewrites the binding's state.json while it is idle (caller holds `lock` and checked it):
  // its passes are held back meanwhile, the file is written without the engine's mutex (it is
  // disk work), and `saved` runs under the mutex before the hold ends.
  Status EditIdle(std::unique_lock<std::mutex>& lock, BindingRuntime& b,
                  const StateEdit& edit, const std::function<void(BindingRuntime&)>& saved) {
    b.held = true;
    BindingSpec spec = b.spec;
    lock.unlock();
    auto state = LoadBindingState(spec.binding_dir);
    Status s = state.ok() ? edit(spec, *state) : state.status();
    if (s.ok()) s = SaveBindingState(spec.binding_dir, *state);
    lock.lock();
    if (s.ok()) {
      b.state = *state;
      saved(b);
    }
    b.held = false;
    work_cv.notify_all();
    done_cv.notify_all();
    return s;
  }

  // Caller holds `lock`. Waits up to `timeout` for the binding to be idle.
  Status WaitIdle(std::unique_lock<std::mutex>& lock, BindingRuntime& b, const std::string& name,
                  std::chrono::milliseconds timeout) {
    if (!done_cv.wait_for(lock, timeout, [&] { return stopping || (!b.running && !b.held); })) {
      return Status::Unavailable("a pass of sync '" + name + "' is still running after " +
                                 std::to_string(timeout.count() / 1000) + "s; try again");
    }
    if (stopping) return Status::Unavailable("the daemon is stopping or reloading; try again");
    return Status::Ok();
  }

  // Scheduler thread, holding `lock`: writes each requested pause or resume to state.json
  // once its binding is idle.
  void PersistPauses(std::unique_lock<std::mutex>& lock) {
    // Each save releases the mutex, and a request that comes meanwhile finds no scheduler
    // waiting to hear it: look again until nothing is left to save.
    for (bool saved_one = true; saved_one;) {
      saved_one = false;
      for (auto& [name, b] : bindings) saved_one = PersistPause(lock, name, b) || saved_one;
    }
  }

  // One binding's requested pause or resume, when it is idle; true when it was written.
  bool PersistPause(std::unique_lock<std::mutex>& lock, const std::string& name, BindingRuntime& b) {
    if (!b.pause_to_save || b.running || b.held) return false;
    bool paused = *b.pause_to_save;
    uint64_t request = b.pause_requests;
    b.pause_to_save.reset();
    b.pause_saved = EditIdle(
        lock, b,
        [paused](const BindingSpec&, BindingState& st) {
          if (st.paused != paused) st.paused_time = paused ? NowIso8601() : "";
          st.paused = paused;
          return Status::Ok();
        },
        [](BindingRuntime&) {});
    if (!b.pause_saved.ok()) spdlog::error("sync '{}': {}", name, b.pause_saved.message());
    else spdlog::debug("sync '{}': {} saved", name, paused ? "pause" : "resume");
    b.pause_saved_upto = request;
    done_cv.notify_all();  // SetPaused waits for its request to be saved
    return true;
  }

  // Caller holds mu. A full scan costs milliseconds of CPU per binding, so at thousands of
  // bindings a full scan of each every minute is most of the daemon's idle CPU; a folder whose
  // every change the watcher saw since its last pass (which left it in step) gets one rarely.
  void Rescan(BindingRuntime& b, const std::string& name, Clock::time_point now) {
    bool seen_whole = watcher && watcher->WatchesAll(name) && b.changes_complete && b.in_step;
    if (seen_whole && now < b.next_full_rescan) return;
    b.next_full_rescan = now + options.watched_rescan_interval;
    Enqueue(b, name, false, /*full_scan=*/true);
  }

  void Schedule() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      PersistPauses(lock);
      auto now = Clock::now();
      auto next = now + std::chrono::hours(1);
      if (now >= next_rescan) {
        for (auto& [name, b] : bindings) Rescan(b, name, now);
        next_rescan = now + options.rescan_interval;
      }
      next = std::min(next, next_rescan);
      // A one-shot remote pass at `at` (zero = none): due now, or when to wake up for it.
      auto fire_at = [&](Clock::time_point& at, BindingRuntime& b, const std::string& name) {
        if (at == Clock::time_point{}) return;
        if (at > now) {
          next = std::min(next, at);
          return;
        }
        at = {};
        Enqueue(b, name, true);
      };
      for (auto& [name, b] : bindings) {
        fire_at(b.rerun_at, b, name);
        fire_at(b.retry_at, b, name);
        if (b.poll_interval.count() > 0) {
          if (b.next_poll <= now) {
            b.next_poll = now + b.poll_interval;
            Enqueue(b, name, true);
          }
          next = std::min(next, b.next_poll);
        }
      }
      if (running > 0) {
        cancel->ShutdownIdle(options.io_timeout + kIdleMargin);
        next = std::min(next, now + std::chrono::seconds(1));
      }
      sched_cv.wait_until(lock, next);
    }
  }
};

SyncEngine::SyncEngine(const Config& config, CredentialResolver resolver, EngineOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->per_remote_limit = options.workers_per_remote > 0 ? options.workers_per_remote
                                                           : std::max(1u, std::max(1u, options.workers) / 2);
  for (const auto& c : config.connectors) {
    for (const auto& s : c.syncs) {
      BindingRuntime b;
      b.connector = c.name;
      auto creds = resolver(c, s);
      if (!creds.ok()) {
        b.setup = creds.status().WithContext("sync '" + s.name + "'");
        b.last_error = b.setup.message();
      }
      b.spec = MakeBindingSpec(config.daemon, c, s, creds.ok() ? *creds : RemoteCredentials{});
      if (auto check = options.tree_checks.find(s.name); check != options.tree_checks.end()) {
        b.spec.check_tree = check->second;
      }
      b.remote = RemoteKey(s.remote_url);
      b.poll_interval = s.poll_interval;
      if (auto st = LoadBindingState(b.spec.binding_dir); st.ok()) {
        b.paused = st->paused;
        b.state = std::move(st).value();
      }
      impl_->bindings.emplace(s.name, std::move(b));
    }
  }
}

SyncEngine::~SyncEngine() { Stop(); }

Status SyncEngine::Start() {
  impl_->watcher = std::make_unique<LocalWatcher>(
      [this](const std::string& b, LocalChanges changes) { impl_->NoteLocalChanges(b, std::move(changes)); },
                                                  impl_->options.debounce_quiet, impl_->options.debounce_max);
  for (auto& [name, b] : impl_->bindings) {
    if (!b.setup.ok()) {
      spdlog::error("{}", b.setup.message());
      continue;
    }
    Status s = impl_->watcher->Add(name, b.spec.local);
    if (!s.ok()) spdlog::warn("sync '{}': {}", name, s.message());
  }
  Status s = impl_->watcher->Start();
  if (!s.ok()) spdlog::warn("folder watching is off ({}); relying on the periodic rescan", s.message());
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto now = Clock::now();
    impl_->next_rescan = now + impl_->options.rescan_interval;
    for (auto& [name, b] : impl_->bindings) {
      b.next_poll = now + b.poll_interval;
      impl_->Enqueue(b, name, true);
    }
  }
  for (unsigned i = 0; i < std::max(1u, impl_->options.workers); ++i) {
    impl_->workers.emplace_back([this] { impl_->Work(); });
  }
  impl_->scheduler = std::thread([this] { impl_->Schedule(); });
  return Status::Ok();
}

void SyncEngine::Stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  if (impl_->watcher) impl_->watcher->Stop();
  impl_->work_cv.notify_all();
  impl_->sched_cv.notify_all();
  impl_->done_cv.notify_all();
  {
    std::unique_lock<std::mutex> lock(impl_->mu);
    if (!impl_->done_cv.wait_for(lock, impl_->options.stop_grace, [&] { return impl_->running == 0; })) {
      spdlog::info("cancelling the network I/O of {} running pass(es)", impl_->running);
    }
  }
  impl_->cancel->Cancel();  // also refuses connections a finishing pass would still open
  for (auto& t : impl_->workers) {
    if (t.joinable()) t.join();
  }
  if (impl_->scheduler.joinable()) impl_->scheduler.join();
  // A pause asked for while its binding's last pass ran is still saved: it must hold after
  // the restart.
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->PersistPauses(lock);
}

bool SyncEngine::TriggerRemote(const std::string& binding, const std::string& reason,
                               std::chrono::steady_clock::time_point asked) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->bindings.find(binding);
  if (it == impl_->bindings.end()) return false;
  spdlog::debug("sync '{}': remote trigger ({})", binding, reason);
  impl_->Enqueue(it->second, binding, true, false, asked);
  return true;
}

std::optional<BindingSpec> SyncEngine::Spec(const std::string& binding) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->bindings.find(binding);
  if (it == impl_->bindings.end() || !it->second.setup.ok()) return std::nullopt;
  return it->second.spec;
}

bool SyncEngine::TriggerLocal(const std::string& binding) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->bindings.find(binding);
  if (it == impl_->bindings.end()) return false;
  impl_->Enqueue(it->second, binding, false);
  return true;
}

Result<std::string> SyncEngine::SyncNow(const std::string& binding, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  auto it = impl_->bindings.find(binding);
  if (it == impl_->bindings.end()) return Status::NotFound("no sync binding named '" + binding + "'");
  BindingRuntime& b = it->second;
  if (!b.setup.ok()) return b.setup;
  if (b.paused) {
    return Status::Conflict("sync '" + binding + "' is paused; `gitsyncd resume " + binding + "` syncs it again");
  }
  if (b.elsewhere) return Status::Conflict("sync '" + binding + "' is exclusive; another instance of the fleet runs it");
  // Wait for a pass that starts after this call: the one after any running or queued one.
  uint64_t target = b.passes + (b.running ? 1 : 0) + 1;
  if (b.running) b.rerun = true;
  // A full pass, as documented: the watcher may not have reported an edit saved just before
  // the request, and a pass decided from its paths alone would call the folder in sync.
  b.full_scan = true;
  impl_->Enqueue(b, binding, true);
  if (!impl_->done_cv.wait_for(lock, timeout, [&] { return impl_->stopping || b.passes >= target; })) {
    return Status::Unavailable("sync '" + binding + "' did not finish within " +
                               std::to_string(timeout.count() / 1000) + "s; it goes on in the background");
  }
  if (impl_->stopping && b.passes < target) return Status::Unavailable("the daemon is stopping");
  if (!b.last_error.empty()) return Status::Error(Status::Code::kUnavailable, b.last_error);
  return b.last_outcome;
}

Result<PassPlan> SyncEngine::DryRun(const std::string& binding, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  auto it = impl_->bindings.find(binding);
  if (it == impl_->bindings.end()) return Status::NotFound("no sync binding named '" + binding + "'");
  BindingRuntime& b = it->second;
  if (!b.setup.ok()) return b.setup;
  // Passes of one binding never overlap; neither does a dry run with a pass.
  if (!impl_->done_cv.wait_for(lock, timeout, [&] { return impl_->stopping || (!b.running && !b.held); })) {
    return Status::Unavailable("a pass of '" + binding + "' is still running; try the dry run again");
  }
  if (impl_->stopping) return Status::Unavailable("the daemon is stopping");
  b.held = true;
  BindingSpec spec = b.spec;
  std::string connector = b.connector;
  lock.unlock();
  Result<PassPlan> plan = Status::Internal("no plan");
  {
    ScopedIoCancel cancel_scope(impl_->cancel);
    ScopedLogContext log_context(binding, connector);
    plan = PlanSyncPass(spec);
  }
  lock.lock();
  b.held = false;
  impl_->work_cv.notify_all();  // a pass queued meanwhile may run now
  impl_->done_cv.notify_all();
  return plan;
}

Status SyncEngine::EditState(const std::string& binding, const StateEdit& edit, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  auto it = impl_->bindings.find(binding);
  if (it == impl_->bindings.end()) return Status::NotFound("no sync binding named '" + binding + "'");
  Status idle = impl_->WaitIdle(lock, it->second, binding, timeout);
  if (!idle.ok()) return idle;
  return impl_->EditIdle(lock, it->second, edit, [](BindingRuntime&) {});
}

Status SyncEngine::SetPaused(const std::string& binding, bool paused, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  auto it = impl_->bindings.find(binding);
  if (it == impl_->bindings.end()) return Status::NotFound("no sync binding named '" + binding + "'");
  if (impl_->stopping) return Status::Unavailable("the daemon is stopping or reloading; try again");
  BindingRuntime& b = it->second;
  // In memory at once, so no pass starts from now on (a running one finishes); on disk as
  // soon as the binding is idle.
  if (b.paused != paused) {
    b.paused = paused;
    spdlog::info("sync '{}': {}", binding, paused ? "paused" : "resumed");
    if (paused) {
      impl_->Unqueue(b, binding);
    } else {
      // The watcher's paths since the pause may be incomplete (they are capped); a full pass
      // looks at the whole folder and fetches whatever the remote did meanwhile.
      impl_->Enqueue(b, binding, /*remote=*/true, /*full_scan=*/true);
    }
  }
  b.pause_to_save = paused;
  uint64_t target = ++b.pause_requests;
  impl_->sched_cv.notify_all();
  if (timeout.count() == 0) return Status::Ok();
  if (!impl_->done_cv.wait_for(lock, timeout, [&] { return impl_->stopping || b.pause_saved_upto >= target; })) {
    return Status::Unavailable("a pass of sync '" + binding + "' is still running; the " +
                               (paused ? "pause" : "resume") + " is saved when it ends");
  }
  if (b.pause_saved_upto < target) return Status::Unavailable("the daemon is stopping; the change may not be saved");
  return b.pause_saved;
}

bool SyncEngine::SetRunElsewhere(const std::string& binding, bool elsewhere) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->bindings.find(binding);
  if (it == impl_->bindings.end()) return false;
  BindingRuntime& b = it->second;
  if (b.elsewhere == elsewhere) return true;
  b.elsewhere = elsewhere;
  if (elsewhere) {
    impl_->Unqueue(b, binding);
  } else {
    // What the previous owner left (in the shared folder and the branch) is looked at in full.
    impl_->Enqueue(b, binding, /*remote=*/true, /*full_scan=*/true);
  }
  impl_->sched_cv.notify_all();
  return true;
}

std::vector<EngineBindingStatus> SyncEngine::Snapshot() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<EngineBindingStatus> out;
  auto now = Clock::now();
  for (const auto& [name, b] : impl_->bindings) {
    EngineBindingStatus s;
    s.name = name;
    s.connector = b.connector;
    s.running = b.running;
    s.queued = b.queued || b.rerun_at != Clock::time_point{};
    s.paused = b.paused;
    s.elsewhere = b.elsewhere;
    s.passes = b.passes;
    s.failures = b.failures;
    s.last_outcome = b.last_outcome;
    s.last_error = b.last_error;
    s.errors_total = b.errors_total;
    s.last_success_unix = b.last_success_unix;
    s.duration_buckets = b.duration_buckets;
    s.duration_sum_s = b.duration_sum_s;
    s.state = b.state;
    s.last_pass_seconds = b.last_pass_seconds;
    s.last_pass_pushed_after_s = b.last_pass_pushed_after_s;
    s.last_pass_incremental = b.last_pass_incremental;
    s.recent_passes.assign(b.recent_passes.begin(), b.recent_passes.end());
    if (b.retry_at != Clock::time_point{} && b.retry_at > now) {
      s.next_retry_in_s = std::chrono::duration<double>(b.retry_at - now).count();
    }
    out.push_back(std::move(s));
  }
  return out;
}

size_t SyncEngine::QueueDepth() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->queue.size();
}

std::vector<std::string> SyncEngine::BindingNames() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<std::string> names;
  for (const auto& [name, b] : impl_->bindings) names.push_back(name);
  return names;
}

}  // namespace gitsyncd
