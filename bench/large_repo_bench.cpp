// Very large repository, small folder: what it costs to bring a 50-file folder of a repository
// with 20,000 files and ~500 MB of history into a local folder, side by side:
//   (1) gitsyncd with fetch: git — a libgit2 fetch of the whole branch history over HTTPS
//       (nginx + git http-backend), then the folder written out;
//   (2) the best Git-native way: `git clone --depth 1 --filter=blob:none --sparse` +
//       `git sparse-checkout set <folder>`, same server;
//   (3) gitsyncd with fetch: api — the folder through the GitHub REST API test server
//       (tests/support/provider_api_server.py) over HTTPS;
//   (4) fetch: api again with no change (must be one request).
// Reports bytes the server sent (nginx $body_bytes_sent / the API server's counter, per run),
// wall time and the peak RSS of the process doing the work (wait4 ru_maxrss, children
// included). Each method runs RUNS times from scratch and the fastest run is reported: the
// machine is shared, and the fastest run is the one least disturbed by others.
//
// Usage: large_repo_bench [FILES] [HISTORY_MB] [RUNS]   (default 20000 files, 500 MB, 3 runs)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>

#include "sync/remote_auth.h"
#include "sync/sync_pass.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
using Clock = std::chrono::steady_clock;

namespace {

const char* kFolder = "services/payments/config";

// Builds the repository with git fast-import: one commit with FILES small files (50 of them
// in kFolder), then history commits that each add and later remove a random 10 MB file.
void Generate(const std::string& bare, size_t files, size_t history_mb) {
  InitBareRepo(bare);
  std::string cmd = "git --git-dir '" + bare + "' fast-import --quiet";
  FILE* p = ::popen(cmd.c_str(), "w");
  auto data = [&](const std::string& s) { std::fprintf(p, "data %zu\n", s.size()); std::fwrite(s.data(), 1, s.size(), p); std::fputc('\n', p); };
  std::fprintf(p, "commit refs/heads/main\ncommitter Bench <b@example.com> 1700000000 +0000\n");
  data("seed");
  for (size_t i = 0; i < files; ++i) {
    std::string path = i < 50 ? std::string(kFolder) + "/file" + std::to_string(i) + ".yaml"
                              : "area" + std::to_string(i % 200) + "/f" + std::to_string(i) + ".yaml";
    std::string content = "key: " + std::to_string(i) + "\nvalue: some configuration text for entry " +
                          std::to_string(i) + "\n";
    // The folder's files are config-sized (~2 KB), like the files such a folder holds.
    while (i < 50 && content.size() < 2048) content += "setting_" + std::to_string(content.size()) + ": enabled\n";
    std::fprintf(p, "M 100644 inline %s\n", path.c_str());
    data(content);
  }
  std::mt19937_64 rng(42);
  std::string blob(10 << 20, '\0');
  size_t commits = history_mb / 10;
  for (size_t c = 0; c < commits; ++c) {
    for (size_t i = 0; i < blob.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(&blob[i], &v, 8);
    }
    std::fprintf(p, "commit refs/heads/main\ncommitter Bench <b@example.com> %zu +0000\n", 1700000000 + c + 1);
    data("history " + std::to_string(c));
    if (c > 0) std::fprintf(p, "D history/big%zu.bin\n", c - 1);
    std::fprintf(p, "M 100644 inline history/big%zu.bin\n", c);
    data(blob);
  }
  std::fprintf(p, "commit refs/heads/main\ncommitter Bench <b@example.com> 1800000000 +0000\n");
  data("drop the last big file");
  if (commits > 0) std::fprintf(p, "D history/big%zu.bin\n", commits - 1);
  if (::pclose(p) != 0) throw std::runtime_error("git fast-import failed");
  Git({"--git-dir", bare, "repack", "-a", "-d", "-q"});
}

struct Measure {
  double seconds = 0;
  long max_rss_kb = 0;
  int status = -1;
  std::string all_runs;  // "0.31 / 0.22 / 0.25 s"
};

// Runs `fn` in a forked child; measures wall time and the child's peak RSS.
template <typename Fn>
Measure InChild(Fn fn) {
  auto t0 = Clock::now();
  std::fflush(nullptr);  // a child must not inherit (and later repeat) buffered output
  if (std::getenv("BENCH_NO_FORK")) {
    Measure m;
    m.status = fn();
    m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return m;
  }
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn());
  int status = 0;
  rusage ru{};
  ::wait4(pid, &status, 0, &ru);
  Measure m;
  m.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  m.max_rss_kb = ru.ru_maxrss;
  m.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return m;
}

uint64_t NginxBytes(const GitHttpsServer& s) {
  uint64_t total = 0;
  std::istringstream in(s.access_log());
  std::string line;
  while (std::getline(in, line)) {
    auto sp = line.rfind(' ');
    if (sp != std::string::npos) total += std::strtoull(line.c_str() + sp + 1, nullptr, 10);
  }
  return total;
}

uint64_t ApiBytes(const ProviderApiServer& a, uint64_t* requests) {
  auto v = boost::json::parse(a.Stats()).as_object();
  *requests = 0;
  for (const auto& [k, n] : v.at("requests").as_object()) *requests += static_cast<uint64_t>(n.as_int64());
  return static_cast<uint64_t>(v.at("bytes_sent").as_int64());
}

uint64_t FolderBytes(const std::string& bare) {
  auto out = Git({"--git-dir", bare, "ls-tree", "-r", "-l", "main", std::string(kFolder) + "/"}).out;
  uint64_t total = 0;
  std::istringstream in(out);
  std::string mode, type, sha, size, path;
  while (in >> mode >> type >> sha >> size >> path) total += std::strtoull(size.c_str(), nullptr, 10);
  return total;
}

// The fastest of `runs` runs of `fn(run)` (a failed run is reported as it is).
template <typename Fn>
Measure Fastest(int runs, Fn fn) {
  Measure best;
  std::string all;
  for (int i = 0; i < runs; ++i) {
    Measure m = InChild([&] { return fn(i); });
    if (m.status != 0) return m;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.2f", i ? " / " : "", m.seconds);
    all += buf;
    if (i == 0 || m.seconds < best.seconds) best = m;
  }
  best.all_runs = all + " s";
  return best;
}

void Row(const char* what, uint64_t bytes, const Measure& m, const std::string& note) {
  std::printf("| %s | %.2f MB | %.2f s | %.1f MB | %s |\n", what, static_cast<double>(bytes) / 1e6, m.seconds,
              static_cast<double>(m.max_rss_kb) / 1024.0,
              m.status == 0 ? (note + "; runs: " + m.all_runs).c_str() : "FAILED");
}

}  // namespace

int main(int argc, char** argv) {
  size_t files = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20000;
  size_t history_mb = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 500;
  TempDir dir;
  GitHttpsServer git_server;
  std::string bare = git_server.repo_path("mono");
  auto g0 = Clock::now();
  Generate(bare, files, history_mb);
  std::fprintf(stderr, "generated %zu files + %zu MB history in %.1f s (pack %s)\n", files, history_mb,
               std::chrono::duration<double>(Clock::now() - g0).count(),
               Git({"--git-dir", bare, "count-objects", "-vH"}).out.c_str());
  ProviderApiServer api("bench-token", {{"acme/mono", bare}});
  uint64_t folder_bytes = FolderBytes(bare);

  std::printf("Repository: %zu files, %zu MB of history; folder %s: 50 files, %llu bytes.\n\n", files, history_mb,
              kFolder, static_cast<unsigned long long>(folder_bytes));
  std::printf("| method | bytes sent by the server | wall time | peak RSS | notes |\n|---|---|---|---|---|\n");

  BindingSpec base;
  base.branch = "main";
  base.path = kFolder;
  base.direction = SyncDirection::kPull;
  base.author = {"Bench", "b@example.com"};

  int runs = argc > 3 ? std::atoi(argv[3]) : 3;
  uint64_t before = NginxBytes(git_server);
  Measure full = Fastest(runs, [&](int run) {
    if (!ConfigureTls(git_server.ca_file()).ok()) return 2;
    BindingSpec s = base;
    s.name = "full";
    s.local = dir / ("full" + std::to_string(run));
    s.binding_dir = dir / ("state/full" + std::to_string(run));
    s.remote = {git_server.url("mono"), git_server.user(), git_server.password(), "", "", ""};
    return RunSyncPass(s).ok() ? 0 : 1;
  });
  Row("gitsyncd fetch: git (libgit2 full fetch)", (NginxBytes(git_server) - before) / runs, full, "whole history");

  before = NginxBytes(git_server);
  auto env = git_server.git_env();
  Measure sparse = Fastest(runs, [&](int run) {
    std::string d = dir / ("sparse" + std::to_string(run));
    auto a = Git({"clone", "-q", "--depth", "1", "--filter=blob:none", "--sparse", git_server.url_with_credentials("mono"), d},
                 "", env);
    auto b = Git({"-C", d, "sparse-checkout", "set", kFolder}, "", env);
    return a.exit_code == 0 && b.exit_code == 0 ? 0 : 1;
  });
  Row("git clone --depth 1 --filter=blob:none --sparse + sparse-checkout", (NginxBytes(git_server) - before) / runs,
      sparse, "best Git-native way");

  uint64_t requests0 = 0, requests1 = 0;
  uint64_t abytes = ApiBytes(api, &requests0);
  ApiTarget t;
  t.api_base = api.api_url();
  t.repo = "acme/mono";
  t.token = "bench-token";
  t.http.ca_file = api.ca_file();
  t.http.proxy_from_environment = false;
  auto api_binding = [&](int run) {
    BindingSpec s = base;
    s.name = "api";
    s.local = dir / ("api" + std::to_string(run));
    s.binding_dir = dir / ("state/api" + std::to_string(run));
    s.api = t;
    return s;
  };
  Measure viaapi = Fastest(runs, [&](int run) { return RunSyncPass(api_binding(run)).ok() ? 0 : 1; });
  uint64_t abytes1 = ApiBytes(api, &requests1);
  Row("gitsyncd fetch: api", (abytes1 - abytes) / runs, viaapi,
      std::to_string((requests1 - requests0) / runs) + " requests");
  Measure again = Fastest(runs, [&](int) { return RunSyncPass(api_binding(0)).ok() ? 0 : 1; });
  uint64_t requests2 = 0;
  uint64_t abytes2 = ApiBytes(api, &requests2);
  Row("gitsyncd fetch: api, no change", (abytes2 - abytes1) / runs, again,
      std::to_string((requests2 - requests1) / runs) + " request(s)");
  std::printf("\nAPI bytes / folder bytes: %.2f\n",
              static_cast<double>(abytes1 - abytes) / runs / static_cast<double>(folder_bytes));
  return 0;
}
