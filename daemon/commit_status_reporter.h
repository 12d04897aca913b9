// Commit statuses (`report_status: true`, docs/operations.md "Commit statuses"): after a pass
// that synced a commit, a status gitsyncd/<instance>/<binding> is posted on it through the
// provider's API. Passes only queue a report; one thread of its own posts them, waiting out
// rate limits. A failure is logged and counted, never fatal; a full queue drops the oldest.
// Stopping cancels the post under way (its rate-limit wait or its connection) at once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "api/repo_hooks.h"
#include "config/config.h"
#include "config/secret_store.h"
#include "sync/sync_engine.h"

namespace gitsyncd {

class IoCancel;

struct CommitStatusTotals {
  uint64_t posted = 0, failed = 0, dropped = 0;
};
// Process-wide totals (for /metrics).
CommitStatusTotals CommitStatusCounts();

// The status a pass event calls for, or nullopt when it synced and refused no commit.
// `status_page`: where people reach the status page (operator.public_url), "" = no link.
std::optional<CommitStatusReport> StatusForPass(const PassEvent& e, const std::string& instance,
                                                const std::string& status_page);
// The status page's section of `binding` (its element id detail-<binding>), "" without a page.
std::string StatusTargetUrl(const std::string& status_page, const std::string& binding);

class CommitStatusReporter {
 public:
  // `config` and `store` must outlive the reporter.
  CommitStatusReporter(const Config& config, const SecretStore* store);
  // Cancels the post under way; it and what is still queued are dropped (counted).
  ~CommitStatusReporter();
  // For EngineOptions::on_pass: queues the status the event calls for; never blocks on I/O.
  void OnPass(const PassEvent& e);

 private:
  struct Job {
    std::string connector, binding;
    CommitStatusReport report;
  };
  void Run();
  void Post(const Job& job);
  const Config& config_;
  const SecretStore* store_;
  std::string instance_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  // Reporter thread only: context -> the status last posted under it, so that the retries of a
  // pass that keeps refusing one commit do not post it again and again.
  std::map<std::string, std::string> last_posted_;
  bool stopping_ = false;
  std::shared_ptr<IoCancel> cancel_;  // the reporter thread's: cancelled by the destructor
  std::thread thread_;
};

}  // namespace gitsyncd
