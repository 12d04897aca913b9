// Import jobs inside the daemon: each runs on its own thread (never on the HTTP or control
// threads), reports scheduled -> started -> finished | failed | canceled with per-repository
// progress, and can be canceled between repositories. A job that imported something asks
// the daemon to reload (SIGHUP to itself) so the new connectors start syncing.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "import/import_runner.h"

namespace gitsyncd {

class ImportJobs {
 public:
  ImportJobs() = default;
  ~ImportJobs();  // cancels running jobs and waits for them
  ImportJobs(const ImportJobs&) = delete;
  ImportJobs& operator=(const ImportJobs&) = delete;

  // One request as the HTTP API and the control socket both take it: `verb` "start" (`arg`
  // the import request as JSON), "status" or "cancel" (`arg` the job id).
  struct Answer {
    int status = 200;           // the HTTP status it maps to
    boost::json::object body;   // {"id"} (start), {"id", "job"}, or {"error"}
    bool ok() const { return status < 400; }
  };
  Answer Handle(const Config& config, std::string_view verb, const std::string& arg);
  // The control socket's form: "import-start JSON", "import-status ID" or "import-cancel ID",
  // answered with a JSON line carrying "ok"; empty when `line` is none of these.
  std::string HandleControlLine(const Config& config, const std::string& line);

  // Validates and schedules; returns the job id.
  Result<std::string> Start(const Config& config, const ImportRequest& request);
  std::optional<ImportProgress> Get(const std::string& id) const;
  bool Cancel(const std::string& id);

 private:
  struct Job {
    ImportRequest request;
    ImportProgress progress;
    std::atomic<bool> cancel{false};
    std::thread thread;
  };
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Job>> jobs_;
  uint64_t next_ = 1;
};

}  // namespace gitsyncd
