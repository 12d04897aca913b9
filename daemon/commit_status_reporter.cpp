#include "daemon/commit_status_reporter.h"

#include <spdlog/spdlog.h>

#include <atomic>

#include "api/io_cancel.h"
#include "config/url_encode.h"
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

std::string StatusTargetUrl(const std::string& status_page, const std::string& binding) {
  if (status_page.empty()) return "";
  return status_page + "/#detail-" + UrlEncodeComponent(binding);
}

// A pass that moved a commit is reported on that commit: "synced", or a failure for a
// conflict; a failed pass that refused a remote commit is reported on that commit.
std::optional<CommitStatusReport> StatusForPass(const PassEvent& e, const std::string& instance,
                                                const std::string& status_page) {
  if (!e.state) return std::nullopt;
  CommitStatusReport r;
  r.context = "gitsyncd/" + instance + "/" + e.binding;
  r.target_url = StatusTargetUrl(status_page, e.binding);
  r.state = CommitState::kFailure;
  if (!e.ok) {
    const RefusalRecord& why = e.state->refused;
    if (e.refused_remote_commit.empty()) return std::nullopt;
    r.commit = e.refused_remote_commit;
    if (why.kind == "yaml") {
      r.description = FirstLine("YAML invalid: " + why.file + (why.line > 0 ? ":" + std::to_string(why.line) : ""));
    } else {
      r.description = "hook refused";
    }
    return r;
  }
  if (e.direction == "none" || e.synced_remote_commit.empty()) return std::nullopt;
  r.commit = e.synced_remote_commit;
  if (e.summary.rfind("conflict", 0) == 0 && !e.state->conflicts.empty()) {
    if (!e.conflict_remote_commit.empty()) r.commit = e.conflict_remote_commit;
    r.description = FirstLine("conflict branch " + e.state->conflicts.back().branch);
    return r;
  }
  r.state = CommitState::kSuccess;
  r.description = "synced";
  return r;
}

CommitStatusReporter::CommitStatusReporter(const Config& config, const SecretStore* store)
    : config_(config),
      store_(store),
      instance_(config.daemon.instance),
      cancel_(std::make_shared<IoCancel>()),
      thread_([this] {
        ScopedIoCancel scope(cancel_);
        Run();
      }) {}

CommitStatusReporter::~CommitStatusReporter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  cancel_->Cancel();
  thread_.join();
}

void CommitStatusReporter::OnPass(const PassEvent& e) {
  const ConnectorConfig* c = config_.FindConnector(e.connector);
  if (!c || !c->report_status) return;
  auto report = StatusForPass(e, instance_, config_.daemon.operator_api.public_url);
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
  const CommitStatusReport& r = job.report;
  std::string key = r.commit + (r.state == CommitState::kSuccess ? " success " : " failure ") + r.description;
  if (last_posted_[r.context] == key) return;
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
    last_posted_[r.context] = key;
    ++g_posted;
    spdlog::debug("sync '{}': status {} posted on {}", job.binding, job.report.context, job.report.commit.substr(0, 12));
  } else if (cancel_->cancelled()) {
    ++g_dropped;
    spdlog::info("sync '{}': commit status on {} not posted: gitsyncd is stopping", job.binding,
                 job.report.commit.substr(0, 12));
  } else {
    ++g_failed;
    spdlog::warn("sync '{}': commit status on {} not posted: {}", job.binding, job.report.commit.substr(0, 12),
                 st.message());
  }
}

}  // namespace gitsyncd
