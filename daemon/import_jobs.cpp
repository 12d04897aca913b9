#include "daemon/import_jobs.h"

#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "daemon/cli.h"

namespace gitsyncd {

ImportJobs::~ImportJobs() {
  std::map<std::string, std::unique_ptr<Job>> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, job] : jobs_) job->cancel = true;
    jobs.swap(jobs_);
  }
  for (auto& [id, job] : jobs) {
    if (job->thread.joinable()) job->thread.join();
  }
}

Result<std::string> ImportJobs::Start(const Config& config, const ImportRequest& request) {
  if (Status s = ValidateImportRequest(config, request); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  std::string id = "import-" + std::to_string(next_++);
  auto job = std::make_unique<Job>();
  job->request = request;
  Job* raw = job.get();
  jobs_.emplace(id, std::move(job));
  raw->thread = std::thread([this, raw, id, config] {
    auto store = CliContext::OpenStore(config.daemon);
    spdlog::info("import {}: from '{}' started", id, raw->request.connector);
    ImportProgress done = RunImport(config, store.ok() ? &*store : nullptr, raw->request, raw->cancel,
                                    [this, raw](const ImportProgress& p) {
                                      std::lock_guard<std::mutex> l(mu_);
                                      raw->progress = p;
                                    });
    spdlog::info("import {}: {} ({} imported, {} skipped){}", id, done.state, done.imported, done.skipped,
                 done.error.empty() ? "" : ": " + done.error);
    if (done.imported > 0) ::kill(::getpid(), SIGHUP);  // start syncing the new connectors
  });
  return id;
}

std::optional<ImportProgress> ImportJobs::Get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second->progress;
}

bool ImportJobs::Cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  it->second->cancel = true;
  return true;
}

}  // namespace gitsyncd
