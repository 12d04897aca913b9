// Sync latency on loopback HTTPS (nginx + git http-backend, TLS, basic auth):
//   (1) local edit -> commit visible on the remote branch (one pass; debounce excluded),
//   (2) remote push -> file updated in the local folder (one pass, as `sync-now` runs it),
// for a one-file change in a repository of N files, next to the git CLI doing the same steps
// (commit+push; fetch+merge into a checkout). Prints a table of p50/p90 in milliseconds.
//
// Usage: sync_latency_bench [ROUNDS] [FILES[:FOLDER]...]
//   (default: 20 rounds; 100 files, 20000 files, and 20000 files with the binding on folder d1/)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "sync/remote_auth.h"
#include "sync/sync_pass.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"

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

void Bench(size_t files, const std::string& folder, int rounds, std::vector<Row>* rows) {
  TempDir dir;
  GitHttpsServer server;
  server.CreateBareRepo("big");
  auto env = server.git_env();
  // Seed: N small files in a few hundred folders, one commit.
  {
    GitClone seed(server.url_with_credentials("big"), dir / "seed", "main", env);
    for (size_t i = 0; i < files; ++i) {
      WriteFile(seed.dir() + "/d" + std::to_string(i % 200) + "/f" + std::to_string(i) + ".yaml",
                "key: " + std::to_string(i) + "\nvalue: some configuration text\n");
    }
    if (!seed.CommitAndPush("seed")) throw std::runtime_error("seed push failed");
  }
  if (!ConfigureTls(server.ca_file()).ok()) throw std::runtime_error("tls");
  BindingSpec spec;
  spec.name = "bench";
  spec.branch = "main";
  spec.path = folder;
  spec.local = dir / "local";
  spec.binding_dir = dir / "state/bindings/bench";
  spec.author = {"Bench", "bench@example.com"};
  spec.remote = {server.url("big"), server.user(), server.password(), "", "", ""};
  if (!RunSyncPass(spec).ok()) throw std::runtime_error("initial sync failed");

  GitClone person(server.url_with_credentials("big"), dir / "person", "main", env);
  GitClone cli(server.url_with_credentials("big"), dir / "cli", "main", env);
  Row push{"gitsyncd: local edit -> on remote", files, folder.empty() ? "(root)" : folder, {}};
  Row pull{"gitsyncd: remote push -> in folder", files, folder.empty() ? "(root)" : folder, {}};
  Row cli_push{"git CLI: add+commit+push", files, folder.empty() ? "(root)" : folder, {}};
  Row cli_pull{"git CLI: fetch+merge", files, folder.empty() ? "(root)" : folder, {}};
  for (int r = 0; r < rounds; ++r) {
    std::string n = std::to_string(r);
    // d1/ holds files 1, 201, 401, ...: the edits below stay inside a "d1" folder binding too.
    std::string in_folder = folder.empty() ? "d1/" : "";
    WriteFile(spec.local + "/" + in_folder + "f1.yaml", "key: 1\nvalue: local edit " + n + "\n");
    auto t0 = Clock::now();
    auto res = RunSyncPass(spec, /*local_trigger_only=*/true);  // what an inotify event starts
    auto t1 = Clock::now();
    if (!res.ok()) throw std::runtime_error(res.status().message());
    push.samples.push_back(Ms(t0, t1));

    person.Pull();
    person.Write("d1/f201.yaml", "key: 201\nvalue: remote edit " + n + "\n");
    if (!person.CommitAndPush("remote " + n)) throw std::runtime_error("person push failed");
    t0 = Clock::now();
    res = RunSyncPass(spec);
    t1 = Clock::now();
    if (!res.ok() || ReadFile(spec.local + "/" + in_folder + "f201.yaml").find("remote edit " + n) == std::string::npos) {
      throw std::runtime_error("pull did not arrive");
    }
    pull.samples.push_back(Ms(t0, t1));

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
    RunSyncPass(spec);  // keep gitsyncd's folder current with the CLI's pushes (untimed)
  }
  rows->push_back(push);
  rows->push_back(pull);
  rows->push_back(cli_push);
  rows->push_back(cli_pull);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 20;
  // Each further argument: FILES or FILES:FOLDER (the binding's path; default the root).
  std::vector<std::string> configs;
  for (int i = 2; i < argc; ++i) configs.emplace_back(argv[i]);
  if (configs.empty()) configs = {"100", "20000", "20000:d1"};
  std::vector<Row> rows;
  try {
    for (const auto& c : configs) {
      auto colon = c.find(':');
      Bench(static_cast<size_t>(std::atol(c.substr(0, colon).c_str())), colon == std::string::npos ? "" : c.substr(colon + 1),
            rounds, &rows);
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
