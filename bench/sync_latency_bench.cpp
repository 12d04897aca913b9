// Sync latency on loopback HTTPS (nginx + git http-backend, TLS, basic auth):
//   (1) local edit -> commit visible on the remote branch: the pass the folder watcher starts
//       (its debounce excluded: the pass's own duration, as the engine measures it),
//   (2) remote push -> file updated in the local folder: `sync-now` (SyncEngine::SyncNow),
// for a one-file change in a repository of N files, next to the git CLI doing the same steps
// (commit+push; fetch+merge into a checkout). Prints a table of p50/p90 in milliseconds.
// gitsyncd runs as in the daemon: the SyncEngine with its worker pool and inotify watcher,
// so passes after the first look only at the paths the watcher reported.
//
// With `+ssh` after a configuration, the remote is the loopback OpenSSH sshd instead (ed25519
// key, known_hosts checked; the git CLI uses the ssh client), so the rows show what a pass over
// SSH costs with the session kept open between passes (sync/ssh_transport.h). The server's
// own time (its git-receive-pack and git-upload-pack, from Git's trace2 on the server) is
// printed beside it, with the push less that time: the part of a pass that is gitsyncd's.
//
// With `+statuses` after a configuration, the binding has `report_status: true`: after each
// pass the daemon's CommitStatusReporter queues the commit's status, and its thread posts it
// to the provider API test server (GitHub's commit statuses API), as `gitsyncd run` does.
//
// Usage: sync_latency_bench [ROUNDS] [FILES[:FOLDER][+ssh][+statuses]...]
//   (default: 20 rounds; 100 files, 20000 files, and 20000 files with the binding on folder d1/)
// SPDLOG_LEVEL=debug also prints each pass's log, with the time of each of its steps
// (`pass steps: ...`, sync/pass_timer.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/cfg/env.h>
#include <spdlog/spdlog.h>

#include "config/provider.h"
#include "daemon/commit_status_reporter.h"
#include "sync/remote_auth.h"
#include "sync/sync_engine.h"
#include "sync/sync_pass.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/git_trace2.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
using Clock = std::chrono::steady_clock;

namespace {

double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Row {
  std::string what;
  size_t files;
  std::string folder;
  std::vector<double> samples;
};

// The server's own time per request (nginx $request_time), by client and request, so a
// reader can see which part of a pass is the server's: every request forks a `git
// http-backend` CGI process here.
std::vector<Row> ServerTimes(const GitHttpsServer& server, size_t files, const std::string& where) {
  std::map<std::string, std::vector<double>> by_kind;
  std::istringstream in(server.access_log());
  std::string line;
  while (std::getline(in, line)) {
    // <msec> <request_time> "<request>" <status> "<user agent>" <credentials> <bytes>
    std::istringstream fields(line);
    double msec = 0, seconds = 0;
    fields >> msec >> seconds;
    std::string client = line.find("libgit2") != std::string::npos ? "gitsyncd (libgit2)" : "git CLI";
    std::string what = line.find("POST") != std::string::npos && line.find("git-receive-pack") != std::string::npos
                           ? "POST git-receive-pack"
                       : line.find("POST") != std::string::npos ? "POST git-upload-pack"
                       : line.find("\" 401 ") != std::string::npos ? "GET info/refs (401, asks for credentials)"
                                                                    : "GET info/refs";
    by_kind["server time: " + client + " " + what].push_back(seconds * 1000.0);
  }
  std::vector<Row> out;
  for (auto& [what, samples] : by_kind) out.push_back({what, files, where, std::move(samples)});
  return out;
}

// The remote of one configuration: HTTPS (nginx) or SSH (sshd), for gitsyncd and the git CLI.
struct BenchRemote {
  std::unique_ptr<GitHttpsServer> https;
  std::unique_ptr<GitSshServer> ssh;
  explicit BenchRemote(bool over_ssh) {
    if (over_ssh) {
      ssh = std::make_unique<GitSshServer>();
      ssh->CreateBareRepo("big");
    } else {
      https = std::make_unique<GitHttpsServer>();
      https->CreateBareRepo("big");
    }
  }
  std::string url() const { return ssh ? ssh->url("big") : https->url("big"); }
  std::string cli_url() const { return ssh ? ssh->url("big") : https->url_with_credentials("big"); }
  std::map<std::string, std::string> env() const { return ssh ? ssh->git_env() : https->git_env(); }
  // Over SSH: how far Git's trace of the server's commands has grown (git_trace2.h).
  size_t trace_mark() const { return ssh ? ssh->trace2_events().size() : 0; }
  // The server's run time of the `command` processes started since `mark` (0 when not SSH).
  double ServerMs(size_t mark, const std::string& command) const {
    if (!ssh) return 0;
    double ms = 0;
    for (double s : Trace2CommandSeconds(ssh->trace2_events().substr(mark), command)) ms += s * 1000.0;
    return ms;
  }
  RemoteCredentials credentials() const {
    if (ssh) return RemoteCredentials{url(), ssh->user(), "", ssh->client_private_key(), ssh->known_hosts_file(), ""};
    return RemoteCredentials{url(), https->user(), https->password(), "", "", ""};
  }
};

void Bench(size_t files, const std::string& folder, bool statuses, bool over_ssh, int rounds, std::vector<Row>* rows) {
  TempDir dir;
  BenchRemote server(over_ssh);
  auto env = server.env();
  // Seed: N small files in a few hundred folders, one commit.
  {
    GitClone seed(server.cli_url(), dir / "seed", "main", env);
    for (size_t i = 0; i < files; ++i) {
      WriteFile(seed.dir() + "/d" + std::to_string(i % 200) + "/f" + std::to_string(i) + ".yaml",
                "key: " + std::to_string(i) + "\nvalue: some configuration text\n");
    }
    if (!seed.CommitAndPush("seed")) throw std::runtime_error("seed push failed");
  }
  if (server.https && !ConfigureTls(server.https->ca_file()).ok()) throw std::runtime_error("tls");
  Config config;
  config.daemon.state_dir = dir / "state";
  ConnectorConfig connector;
  connector.name = "bench";
  connector.url = server.url();
  connector.commit_author = {"Bench", "bench@example.com"};
  SyncBinding binding;
  binding.name = "bench";
  binding.branch = "main";
  binding.path = folder;
  binding.local = dir / "local";
  binding.remote_url = connector.url;
  connector.syncs.push_back(binding);
  config.connectors.push_back(connector);
  // report_status: the reporter's own view of the config, whose API is the test server.
  std::unique_ptr<ProviderApiServer> api;
  std::unique_ptr<CommitStatusReporter> reporter;
  Config status_config = config;
  if (statuses) {
    InitBareRepo(dir / "api.git");
    ::setenv("BENCH_API_TOKEN", "bench-token", 1);
    api = std::make_unique<ProviderApiServer>(
        "bench-token", std::map<std::string, std::string>{{RepoPathFromUrl(server.url()), dir / "api.git"}});
    status_config.daemon.ca_file = api->ca_file();
    status_config.daemon.instance = "bench";
    ConnectorConfig& c = status_config.connectors[0];
    c.provider = Provider::kGitHub;
    c.report_status = true;
    c.api.url = api->api_url();
    c.api.token.kind = SecretRef::Kind::kEnv;
    c.api.token.value = "BENCH_API_TOKEN";
    reporter = std::make_unique<CommitStatusReporter>(status_config, nullptr);
  }
  EngineOptions options;
  if (reporter) options.on_pass = [&](const PassEvent& e) { reporter->OnPass(e); };
  options.debounce_quiet = std::chrono::milliseconds(20);
  options.debounce_max = std::chrono::milliseconds(200);
  options.rescan_interval = std::chrono::hours(24);  // the safety net stays out of the rounds
  SyncEngine engine(
      config,
      [&](const ConnectorConfig&, const SyncBinding&) -> Result<RemoteCredentials> { return server.credentials(); },
      options);
  if (!engine.Start().ok()) throw std::runtime_error("engine did not start");
  // Waits until the binding is idle and the watcher has had time to report our own writes.
  auto settle = [&] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto s = engine.Snapshot().at(0);
      if (s.passes > 0 && !s.running && !s.queued) return s;
    }
  };
  if (!engine.SyncNow("bench", std::chrono::minutes(5)).ok()) throw std::runtime_error("initial sync failed");
  settle();

  GitClone person(server.cli_url(), dir / "person", "main", env);
  GitClone cli(server.cli_url(), dir / "cli", "main", env);
  std::string where = (folder.empty() ? "(root)" : folder) + (over_ssh ? ", over SSH" : "") +
                      (statuses ? ", report_status on" : "");
  Row push{"gitsyncd: local edit -> on remote", files, where, {}};
  Row pull{"gitsyncd: remote push -> in folder", files, where, {}};
  Row pass_total{"gitsyncd: the whole pass of the local edit (with its bookkeeping)", files, where, {}};
  Row cli_push{"git CLI: add+commit+push", files, where, {}};
  Row cli_pull{"git CLI: fetch+merge", files, where, {}};
  // Over SSH the server's own time per pass, from Git's trace on the server (no web server
  // log there), and what is left of the pass without it.
  Row server_push{"server time: git-receive-pack in gitsyncd's push", files, where, {}};
  Row own_push{"gitsyncd: local edit -> on remote, less the server's git-receive-pack", files, where, {}};
  Row server_pull{"server time: git-upload-pack in gitsyncd's pull", files, where, {}};
  size_t incremental = 0;
  for (int r = 0; r < rounds; ++r) {
    std::string n = std::to_string(r);
    // d1/ holds files 1, 201, 401, ...: the edits below stay inside a "d1" folder binding too.
    std::string in_folder = folder.empty() ? "d1/" : "";
    uint64_t before = settle().passes;
    size_t mark = server.trace_mark();
    WriteFile(binding.local + "/" + in_folder + "f1.yaml", "key: 1\nvalue: local edit " + n + "\n");
    EngineBindingStatus pass;
    for (;;) {  // the pass the watcher starts
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      pass = engine.Snapshot().at(0);
      if (pass.passes > before && !pass.running && pass.last_outcome.rfind("pushed", 0) == 0) break;
      if (!pass.last_error.empty()) throw std::runtime_error(pass.last_error);
    }
    // Until the remote accepted the push: when the edit became visible there.
    push.samples.push_back(pass.last_pass_pushed_after_s * 1000.0);
    pass_total.samples.push_back(pass.last_pass_seconds * 1000.0);
    incremental += pass.last_pass_incremental ? 1 : 0;
    if (server.ssh) {
      server_push.samples.push_back(server.ServerMs(mark, "receive-pack"));
      own_push.samples.push_back(push.samples.back() - server_push.samples.back());
    }

    person.Pull();
    person.Write("d1/f201.yaml", "key: 201\nvalue: remote edit " + n + "\n");
    if (!person.CommitAndPush("remote " + n)) throw std::runtime_error("person push failed");
    settle();
    mark = server.trace_mark();
    auto t0 = Clock::now();
    auto res = engine.SyncNow("bench", std::chrono::minutes(1));
    auto t1 = Clock::now();
    if (server.ssh) server_pull.samples.push_back(server.ServerMs(mark, "upload-pack"));
    if (!res.ok() || ReadFile(binding.local + "/" + in_folder + "f201.yaml").find("remote edit " + n) == std::string::npos) {
      throw std::runtime_error("pull did not arrive: " + (res.ok() ? *res : res.status().message()));
    }
    pull.samples.push_back(Ms(t0, t1));
    incremental += engine.Snapshot().at(0).last_pass_incremental ? 1 : 0;

    // The git CLI doing the same two steps on its own checkout.
    Git({"pull", "--quiet", "--no-rebase", "origin", "main"}, cli.dir(), env);
    cli.Write("d3/f3.yaml", "key: 3\nvalue: cli edit " + n + "\n");
    t0 = Clock::now();
    Git({"add", "--all"}, cli.dir(), env);
    Git({"commit", "--quiet", "-m", "cli " + n}, cli.dir(), env);
    Git({"push", "--quiet", "origin", "HEAD:main"}, cli.dir(), env);
    t1 = Clock::now();
    cli_push.samples.push_back(Ms(t0, t1));
    person.Pull();
    person.Write("d4/f4.yaml", "key: 4\nvalue: remote edit " + n + "\n");
    if (!person.CommitAndPush("remote for cli " + n)) throw std::runtime_error("person push failed");
    t0 = Clock::now();
    Git({"fetch", "--quiet", "origin"}, cli.dir(), env);
    Git({"merge", "--quiet", "--ff-only", "origin/main"}, cli.dir(), env);
    t1 = Clock::now();
    cli_pull.samples.push_back(Ms(t0, t1));
    engine.SyncNow("bench", std::chrono::minutes(1));  // keep the folder current with the CLI's pushes (untimed)
  }
  std::fprintf(stderr, "%zu files, folder %s: %zu of %d timed passes looked only at the changed paths\n", files,
               where.c_str(), incremental, 2 * rounds);
  if (api) {
    // Every synced commit's status reached the provider (the reporter posts after the passes).
    bool all = false;
    for (int i = 0; i < 100 && !all; ++i) {
      std::string st = api->Stats();
      size_t at = st.find("\"status_post\":");
      all = at != std::string::npos && std::atoi(st.c_str() + at + 14) >= 2 * rounds;
      if (!all) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::fprintf(stderr, "%s: statuses posted %llu, failed %llu\n", where.c_str(),
                 static_cast<unsigned long long>(CommitStatusCounts().posted),
                 static_cast<unsigned long long>(CommitStatusCounts().failed));
    if (!all) throw std::runtime_error("not every commit status reached the provider: " + api->Stats());
  }
  rows->push_back(push);
  rows->push_back(pass_total);
  rows->push_back(pull);
  rows->push_back(cli_push);
  rows->push_back(cli_pull);
  if (server.ssh) {
    rows->push_back(server_push);
    rows->push_back(own_push);
    rows->push_back(server_pull);
  }
  if (server.https) {
    for (auto& r : ServerTimes(*server.https, files, where)) rows->push_back(std::move(r));
  }
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::cfg::load_env_levels();
  int rounds = argc > 1 ? std::atoi(argv[1]) : 20;
  // Each further argument: FILES or FILES:FOLDER (the binding's path; default the root).
  std::vector<std::string> configs;
  for (int i = 2; i < argc; ++i) configs.emplace_back(argv[i]);
  if (configs.empty()) configs = {"100", "20000", "20000:d1"};
  std::vector<Row> rows;
  try {
    for (const auto& c : configs) {
      std::string spec = c;
      bool statuses = spec.size() > 9 && spec.compare(spec.size() - 9, 9, "+statuses") == 0;
      if (statuses) spec.resize(spec.size() - 9);
      bool over_ssh = spec.size() > 4 && spec.compare(spec.size() - 4, 4, "+ssh") == 0;
      if (over_ssh) spec.resize(spec.size() - 4);
      auto colon = spec.find(':');
      Bench(static_cast<size_t>(std::atol(spec.substr(0, colon).c_str())),
            colon == std::string::npos ? "" : spec.substr(colon + 1), statuses, over_ssh, rounds, &rows);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench failed: %s\n", e.what());
    return 1;
  }
  std::printf("| step | repo files | synced folder | rounds | p50 ms | p90 ms |\n|---|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    std::printf("| %s | %zu | %s | %zu | %.1f | %.1f |\n", r.what.c_str(), r.files, r.folder.c_str(), r.samples.size(),
                Percentile(r.samples, 0.5), Percentile(r.samples, 0.9));
  }
  return 0;
}
