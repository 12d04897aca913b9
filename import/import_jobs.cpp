#include "import/import_jobs.h"

#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>


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

std::string ImportJobs::HandleControlLine(const Config& config, const std::string& line) {
  std::string word = line.substr(0, line.find(' '));
  std::string arg = line.size() > word.size() ? line.substr(word.size() + 1) : "";
  if (word != "import-start" && word != "import-status" && word != "import-cancel") return {};
  Answer answer = Handle(config, std::string_view(word).substr(7), arg);
  answer.body["ok"] = answer.ok();
  return boost::json::serialize(answer.body);
}

ImportJobs::Answer ImportJobs::Handle(const Config& config, std::string_view verb, const std::string& arg) {
  auto refuse = [](int status, std::string why) { return Answer{status, {{"error", std::move(why)}}}; };
  if (verb == "start") {
    boost::json::error_code ec;
    auto v = boost::json::parse(arg, ec);
    if (ec) return refuse(400, "the import request is not JSON");
    auto request = ImportRequestFromJson(v);
    if (!request.ok()) return refuse(400, request.status().message());
    auto id = Start(config, *request);
    if (!id.ok()) return refuse(400, id.status().message());
    return Answer{202, {{"id", *id}}};
  }
  if (verb != "status" && verb != "cancel") return refuse(400, "unknown import request '" + std::string(verb) + "'");
  auto progress = Get(arg);
  if (!progress) return refuse(404, "no import job " + arg);
  if (verb == "cancel") Cancel(arg);
  return Answer{verb == "cancel" ? 202 : 200, {{"id", arg}, {"job", ToJson(*progress)}}};
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
    auto store = SecretStore::OpenForDaemon(config.daemon);
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
