// `gitsyncd import CONNECTOR (--repo NAME [--name NEW] | --all --local-root DIR) ...` and
// `gitsyncd import --cancel JOB`. With a running daemon the import runs there as a job
// (the CLI follows its progress; Ctrl-C cancels it, as does `--cancel JOB` from elsewhere);
// without one it runs in this process. See import/import_runner.h.
#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "daemon/cli.h"
#include "daemon/control_socket.h"
#include "import/import_runner.h"

namespace gitsyncd {
namespace {

namespace json = boost::json;

std::atomic<bool> g_cancel{false};

void ProgressBar(const ImportProgress& p) {
  const size_t width = 30;
  size_t filled = p.total ? width * p.done / p.total : 0;
  std::fprintf(stderr, "\r[%s%s] %zu/%zu %s", std::string(filled, '#').c_str(), std::string(width - filled, ' ').c_str(),
               p.done, p.total, p.state.c_str());
  std::fflush(stderr);
}

// A single-repository import that imported nothing failed; --all reports what it skipped.
int Report(const ImportProgress& p, bool all) {
  std::fputc('\n', stderr);
  for (const auto& line : p.lines) std::printf("%s\n", line.c_str());
  if (p.state == "failed") return UserError(p.error);
  if (p.state == "canceled") {
    std::printf("canceled after %zu of %zu repositories: %zu imported, %zu skipped\n", p.done, p.total, p.imported,
                p.skipped);
    return kExitUserError;
  }
  std::printf("%zu imported, %zu skipped\n", p.imported, p.skipped);
  return p.imported == 0 && !all ? kExitUserError : kExitOk;
}

// Asks the daemon; nullopt when no daemon listens (then the import runs here).
std::optional<Result<json::value>> AskDaemon(const std::string& socket, const std::string& request) {
  auto reply = ControlRequest(socket, request);
  if (!reply.ok()) {
    if (reply.status().code() == Status::Code::kUnavailable) return std::nullopt;
    return Result<json::value>(reply.status());
  }
  json::error_code ec;
  json::value v = json::parse(*reply, ec);
  if (ec || !v.is_object()) return Result<json::value>(Status::Internal("unexpected answer from the daemon: " + *reply));
  if (!v.at("ok").as_bool()) return Result<json::value>(Status::InvalidArgument(std::string(v.at("error").as_string())));
  return Result<json::value>(v);
}

int Import(CliContext& ctx, const ImportRequest& o, const std::string& cancel_job) {
  auto config = ctx.LoadConfigOrReport();
  if (!config) return kExitUserError;
  std::string socket = ControlSocketPath(config->daemon.state_dir);
  if (!cancel_job.empty()) {
    auto r = AskDaemon(socket, "import-cancel " + cancel_job);
    if (!r) return UserError("gitsyncd is not running: no import job to cancel");
    if (!r->ok()) return UserError(r->status().message());
    std::printf("import %s: cancel requested\n", cancel_job.c_str());
    return kExitOk;
  }
  if (Status s = ValidateImportRequest(*config, o); !s.ok()) return UserError(s.message());
  auto started = AskDaemon(socket, "import-start " + json::serialize(ToJson(o)));
  if (started && !started->ok()) return UserError(started->status().message());
  if (started) {
    std::string id(started->value().at("id").as_string());
    std::fprintf(stderr, "import job %s in the daemon (cancel: gitsyncd import --cancel %s)\n", id.c_str(), id.c_str());
    bool cancel_sent = false;
    for (;;) {
      if (g_cancel && !cancel_sent) {
        AskDaemon(socket, "import-cancel " + id);
        cancel_sent = true;
      }
      auto st = AskDaemon(socket, "import-status " + id);
      if (!st || !st->ok()) return UserError("lost the daemon while importing (job " + id + ")");
      ImportProgress p = ImportProgressFromJson(st->value().at("job"));
      ProgressBar(p);
      if (p.state == "finished" || p.state == "failed" || p.state == "canceled") return Report(p, o.all);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  // No daemon: run here.
  auto store = SecretStore::OpenForDaemon(config->daemon);
  ImportProgress p = RunImport(*config, store.ok() ? &*store : nullptr, o, g_cancel,
                               [](const ImportProgress& now) { ProgressBar(now); });
  int rc = Report(p, o.all);
  if (p.imported) std::printf("start or reload the daemon to sync them (systemctl reload gitsyncd)\n");
  return rc;
}

}  // namespace

void RegisterImportCommand(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("import", "Create connectors for existing repositories of an account connector");
  auto o = std::make_shared<ImportRequest>();
  auto cancel = std::make_shared<std::string>();
  cmd->add_option("CONNECTOR", o->connector, "Account connector (url_type: account, with api.token)");
  cmd->add_option("--repo", o->repo, "Import this repository");
  cmd->add_flag("--all", o->all, "Import every repository of the account (all pages)");
  cmd->add_option("--name", o->name, "Name of the new connector and sync (default: the repository name)");
  cmd->add_option("--branch", o->branch, "Branch (default: the repository's default branch)");
  cmd->add_option("--path", o->path, "Folder inside the repository (default: root)");
  cmd->add_option("--local", o->local, "Local folder (with --repo)");
  cmd->add_option("--local-root", o->local_root, "Parent of the local folders (with --all): DIR/<name>");
  cmd->add_option("--direction", o->direction, "push, pull or bidirectional")
      ->check(CLI::IsMember({"push", "pull", "bidirectional"}));
  cmd->add_option("--cancel", *cancel, "Cancel the daemon's import job JOB");
  cmd->callback([&ctx, o, cancel] {
    ctx.action = [&ctx, o, cancel] {
      if (cancel->empty() && o->connector.empty()) return UserError("give the CONNECTOR to import from, or --cancel JOB");
      struct sigaction sa {};
      sa.sa_handler = [](int) { g_cancel = true; };
      sigaction(SIGINT, &sa, nullptr);
      sigaction(SIGTERM, &sa, nullptr);
      return Import(ctx, *o, *cancel);
    };
  });
}

}  // namespace gitsyncd
