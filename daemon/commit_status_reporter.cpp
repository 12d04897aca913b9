#include "daemon/commit_status_reporter.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>

#include "sync/remote_credentials.h"

namespace gitsyncd {
namespace {

constexpr size_t kMaxQueued = 1000;
std::atomic<uint64_t> g_posted{0}, g_failed{0}, g_dropped{0};

std::string FirstLine(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.size() > 140 ? line.substr(0, 137) + "..." : line;
}

}  // namespace

CommitStatusTotals CommitStatusCounts() { return {g_posted.load(), g_failed.load(), g_dropped.load()}; }

std::string StatusInstance(const DaemonConfig& daemon) {
  if (!daemon.instance.empty()) return daemon.instance;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "gitsyncd";
  std::string h(host);
  return h.substr(0, h.find('.'));
}

// A pass that moved a commit is reported on that commit: success, or failure for a conflict;
// a failed pass whose hook refused a commit is reported on the refused commit.
std::optional<CommitStatusReport> StatusForPass(const PassEvent& e, const std::string& instance,
                                                const std::string& public_url) {
  CommitStatusReport r;
  r.context = "gitsyncd/" + instance + "/" + e.binding;
  r.target_url = public_url.empty() ? "" : public_url + "/";
  if (e.ok) {
    if (e.direction == "none" || !e.state || e.synced_remote_commit.empty()) return std::nullopt;
    r.commit = e.synced_remote_commit;
    bool conflict = e.summary.rfind("conflict", 0) == 0;
    if (conflict && !e.state->conflicts.empty()) {
      r.commit = e.state->conflicts.back().remote_commit.empty() ? r.commit : e.state->conflicts.back().remote_commit;
      r.description = FirstLine("conflict branch " + e.state->conflicts.back().branch);
    } else {
      r.description = FirstLine("synced: " + e.summary);
    }
    r.state = conflict ? CommitState::kFailure : CommitState::kSuccess;
    return r;
  }
  if (!e.state) return std::nullopt;
  for (const auto& h : e.state->hooks) {
    if (!h.ok && !h.commit.empty() && h.hook != "after_pull" && e.summary.find(h.result) != std::string::npos) {
      r.commit = h.commit;
      r.state = CommitState::kFailure;
      r.description = FirstLine("hook refused: " + h.result);
      return r;
    }
  }
  return std::nullopt;
}

CommitStatusReporter::CommitStatusReporter(const Config& config, const SecretStore* store)
    : config_(config), store_(store), instance_(StatusInstance(config.daemon)), thread_([this] { Run(); }) {}

CommitStatusReporter::~CommitStatusReporter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CommitStatusReporter::OnPass(const PassEvent& e) {
  const ConnectorConfig* c = config_.FindConnector(e.connector);
  if (!c || !c->report_status) return;
  auto report = StatusForPass(e, instance_, config_.daemon.listen.public_url);
  if (!report) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.size() >= kMaxQueued) {
    queue_.pop_front();
    ++g_dropped;
  }
  queue_.push_back({e.connector, e.binding, std::move(*report)});
  cv_.notify_one();
}

void CommitStatusReporter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) {
      g_dropped += queue_.size();
      return;
    }
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    Post(job);
    lock.lock();
  }
}

void CommitStatusReporter::Post(const Job& job) {
  const ConnectorConfig* c = config_.FindConnector(job.connector);
  if (!c) return;  // gone with a reload
  const SyncBinding* s = nullptr;
  for (const auto& b : c->syncs) {
    if (b.name == job.binding) s = &b;
  }
  if (!s) return;
  auto creds = ResolveRemoteCredentials(config_, *c, s->remote_url, store_);
  Status st = creds.status();
  if (st.ok()) {
    ApiTarget target = ConnectorApiTarget(config_.daemon, *c, s->remote_url, creds->api_token);
    // Off the pass's path, a rate limit may be waited out longer than a pass would.
    target.max_rate_limit_wait = std::chrono::seconds(120);
    auto hooks = MakeRepoHooks(target);
    st = hooks.ok() ? (*hooks)->PostCommitStatus(job.report) : hooks.status();
  }
  if (st.ok()) {
    ++g_posted;
    spdlog::debug("sync '{}': status {} posted on {}", job.binding, job.report.context, job.report.commit.substr(0, 12));
  } else {
    ++g_failed;
    spdlog::warn("sync '{}': commit status on {} not posted: {}", job.binding, job.report.commit.substr(0, 12),
                 st.message());
  }
}

}  // namespace gitsyncd
