// One host, many bindings (issue 17): a real `gitsyncd run` with N bindings, each on its own
// folder of one file:// remote that holds FOLDERS folders (one connector, N syncs). One run
// prints one table:
//   - the time from starting `gitsyncd run` until every binding's folder holds its file,
//   - the state directory's size on disk (du), the daemon's RSS (now and peak),
//   - memory per idle binding: (RSS with N bindings - RSS with 1 binding) / (N - 1), the
//     one-binding daemon measured first, idle, the same way,
//   - idle CPU (user + system, % of one core) over IDLE_SECONDS once everything is pulled;
//     the default 60 s spans one whole-folder rescan (the engine's safety net, every 60 s),
//   - local edit -> commit on the remote branch, p50/p90 over EDITS edits in different
//     bindings (the watcher's 300 ms debounce included), and of that the remote's own time:
//     the `git receive-pack` a file:// push spawns, from Git's trace of it (GIT_TRACE2_EVENT).
//
// Usage: many_bindings GITSYNCD_BINARY [N=1000] [FOLDERS=1000] [IDLE_SECONDS=60] [EDITS=20]
// (MANY_BINDINGS_LOG=FILE: the daemon logs at debug level into FILE, each pass's steps included)
//
// Many remotes (`https` mode): CONNECTORS connectors of BINDINGS bindings each, every connector
// its own repository (of BINDINGS folders) on the nginx HTTPS server of tests/support/. It prints
// the time from starting `gitsyncd run` until every folder is pulled, the daemon's RSS, and from
// nginx's access log the HTTP requests, TCP connections and TLS handshakes, full and resumed.
//
// Usage: many_bindings GITSYNCD_BINARY https [CONNECTORS=200] [BINDINGS=5] [WORKERS=4]
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/git_trace2.h"
#include "tests/support/temp_dir.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd::testing;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

std::string FolderName(size_t i) { return "d" + std::to_string(i); }

// One commit with FOLDERS folders of two small files each, written with git fast-import.
void Generate(const std::string& bare, size_t folders) {
  InitBareRepo(bare);
  std::string cmd = "git --git-dir '" + bare + "' fast-import --quiet";
  FILE* p = ::popen(cmd.c_str(), "w");
  auto data = [&](const std::string& s) {
    std::fprintf(p, "data %zu\n", s.size());
    std::fwrite(s.data(), 1, s.size(), p);
    std::fputc('\n', p);
  };
  std::fprintf(p, "commit refs/heads/main\ncommitter Bench <b@example.com> 1700000000 +0000\n");
  data("seed");
  for (size_t i = 0; i < folders; ++i) {
    std::fprintf(p, "M 100644 inline %s/config.yaml\n", FolderName(i).c_str());
    data("name: service-" + std::to_string(i) + "\nreplicas: 2\n");
    std::fprintf(p, "M 100644 inline %s/values.yaml\n", FolderName(i).c_str());
    data("image: registry.example.com/service-" + std::to_string(i) + ":1.0\n");
  }
  if (::pclose(p) != 0) throw std::runtime_error("git fast-import failed");
}

// Bytes on disk under `dir`, as `du -s` counts them.
uint64_t DiskUsage(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

// A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM").
long StatusKb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

// utime + stime of the process (all threads), in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

struct Setup {
  std::string cfg, state, srv;
};

// A configuration with `n` bindings b0..b<n-1> on folders d<i % folders> of `remote`.
Setup WriteConfig(const TempDir& dir, const std::string& name, const std::string& remote, size_t n, size_t folders) {
  Setup s{dir / (name + "/etc"), dir / (name + "/state"), dir / (name + "/srv")};
  // MANY_BINDINGS_LOG=FILE: the daemon logs at debug level (with each pass's steps,
  // sync/pass_timer.h), and its log is written to FILE at the end.
  const char* log = std::getenv("MANY_BINDINGS_LOG");
  WriteFile(s.cfg + "/gitsyncd.yaml",
            "state_dir: " + s.state + "\n" + (log != nullptr && *log ? "log_level: debug\n" : ""));
  std::string c = "name: many\nprovider: git\nurl: file://" + remote + "\nsyncs:\n";
  for (size_t i = 0; i < n; ++i) {
    c += "  - name: b" + std::to_string(i) + "\n    path: " + FolderName(i % folders) + "\n    local: " + s.srv + "/b" +
         std::to_string(i) + "\n";
  }
  WriteFile(s.cfg + "/connectors.d/many.yaml", c);
  return s;
}

bool AllPulled(const Setup& s, size_t n, size_t* from) {
  for (; *from < n; ++*from) {
    if (!FileExists(s.srv + "/b" + std::to_string(*from) + "/config.yaml")) return false;
  }
  return true;
}

// The remote's branch head, read from its loose ref (every push writes one).
std::string RemoteHead(const std::string& bare) {
  std::ifstream in(bare + "/refs/heads/main");
  std::string h;
  in >> h;
  return h;
}

struct ServerLog {
  size_t requests = 0, connections = 0, full_handshakes = 0, resumed = 0;
};

// The daemon's requests in nginx's access log (tests/support/git_servers.h, access_log), by the
// last four fields: connection, request number on it, "r" when the TLS session was resumed.
ServerLog CountServerLog(const GitHttpsServer& server) {
  ServerLog c;
  std::istringstream in(server.access_log());
  for (std::string line; std::getline(in, line);) {
    if (line.find("libgit2") == std::string::npos) continue;
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string word; words >> word;) w.push_back(word);
    if (w.size() < 4) continue;
    ++c.requests;
    if (w[w.size() - 3] != "1") continue;
    ++c.connections;
    ++(w[w.size() - 2] == "r" ? c.resumed : c.full_handshakes);
  }
  return c;
}

int RunManyRemotes(const std::string& binary, size_t connectors, size_t per, int workers) {
  TempDir dir;
  GitHttpsServer server;
  std::string cfg = dir / "etc", state = dir / "state", srv = dir / "srv";
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + state + "\nca_file: " + server.ca_file() + "\nworkers: " +
                                        std::to_string(workers) + "\nworkers_per_remote: " + std::to_string(workers) + "\n");
  for (size_t c = 0; c < connectors; ++c) {
    std::string repo = "r" + std::to_string(c);
    Generate(server.repo_path(repo), per);
    std::string y = "name: c" + std::to_string(c) + "\nprovider: git\nurl: " + server.url(repo) + "\nauth:\n  username: " +
                    server.user() + "\n  password: {env: MANY_BINDINGS_PASSWORD}\nsyncs:\n";
    for (size_t b = 0; b < per; ++b) {
      y += "  - name: c" + std::to_string(c) + "b" + std::to_string(b) + "\n    path: " + FolderName(b) + "\n    local: " + srv + "/c" +
           std::to_string(c) + "/b" + std::to_string(b) + "\n";
    }
    WriteFile(cfg + "/connectors.d/c" + std::to_string(c) + ".yaml", y);
  }
  std::map<std::string, std::string> env{{"GITSYNCD_CONFIG", ""}, {"MANY_BINDINGS_PASSWORD", server.password()}};
  auto t0 = Clock::now();
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  size_t done = 0, total = connectors * per;
  bool exited = false;
  auto pulled = [&] {
    exited = StatusKb(daemon.pid(), "VmRSS") < 0;  // gone, or a zombie: refused its configuration
    if (exited) return true;
    for (; done < total; ++done) {
      if (!FileExists(srv + "/c" + std::to_string(done / per) + "/b" + std::to_string(done % per) + "/config.yaml")) {
        return false;
      }
    }
    return true;
  };
  if (!WaitFor(pulled, std::chrono::seconds(1800), std::chrono::milliseconds(10)) || exited) {
    std::fprintf(stderr, "only %zu of %zu folders were pulled%s:\n%s", done, total,
                 exited ? " before the daemon exited" : " after 1800 s", daemon.Log().c_str());
    return 1;
  }
  double pulled_s = std::chrono::duration<double>(Clock::now() - t0).count();
  long rss_kb = StatusKb(daemon.pid(), "VmRSS");
  daemon.Signal(SIGTERM);
  daemon.Wait();
  ServerLog log = CountServerLog(server);
  std::printf("| connectors x bindings | workers | all pulled after s | RSS MB | HTTP requests | TCP connections "
              "| requests per connection | TLS full handshakes | TLS resumed |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %zu x %zu | %d | %.1f | %.1f | %zu | %zu | %.2f | %zu | %zu |\n", connectors, per, workers, pulled_s,
              static_cast<double>(rss_kb) / 1024.0, log.requests, log.connections,
              log.connections > 0 ? static_cast<double>(log.requests) / static_cast<double>(log.connections) : 0.0,
              log.full_handshakes, log.resumed);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: %s GITSYNCD_BINARY [N=1000] [FOLDERS=1000] [IDLE_SECONDS=60] [EDITS=20]\n"
                 "       %s GITSYNCD_BINARY https [CONNECTORS=200] [BINDINGS=5] [WORKERS=4]\n",
                 argv[0], argv[0]);
    return 2;
  }
  std::string binary = fs::absolute(argv[1]).string();
  if (argc > 2 && std::string(argv[2]) == "https") {
    size_t connectors = argc > 3 ? std::stoul(argv[3]) : 200;
    size_t per = argc > 4 ? std::stoul(argv[4]) : 5;
    int workers = argc > 5 ? std::atoi(argv[5]) : 4;
    if (connectors < 1 || per < 1 || workers < 1 || workers > 64) {
      std::fprintf(stderr, "CONNECTORS and BINDINGS must be at least 1, WORKERS 1 to 64\n");
      return 2;
    }
    return RunManyRemotes(binary, connectors, per, workers);
  }
  size_t n = argc > 2 ? std::stoul(argv[2]) : 1000;
  size_t folders = argc > 3 ? std::stoul(argv[3]) : 1000;
  int idle_s = argc > 4 ? std::atoi(argv[4]) : 60;
  int edits = argc > 5 ? std::atoi(argv[5]) : 20;
  if (n < 2 || folders < 1 || idle_s < 1 || edits < 1) {
    std::fprintf(stderr, "N must be at least 2; FOLDERS, IDLE_SECONDS and EDITS at least 1\n");
    return 2;
  }
  TempDir dir;
  std::string remote = dir / "remote.git";
  Generate(remote, folders);
  std::map<std::string, std::string> env{{"GITSYNCD_CONFIG", ""}};

  // The daemon with one binding, idle: the base the per-binding memory is measured from.
  long base_rss_kb = 0;
  {
    Setup one = WriteConfig(dir, "one", remote, 1, folders);
    DaemonProcess daemon(binary, one.cfg, dir.path(), env);
    size_t from = 0;
    if (!daemon.WaitForNotify("READY=1") || !WaitFor([&] { return AllPulled(one, 1, &from); }, std::chrono::seconds(60))) {
      std::fprintf(stderr, "the one-binding daemon did not sync:\n%s", daemon.Log().c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::seconds(3));
    base_rss_kb = StatusKb(daemon.pid(), "VmRSS");
    daemon.Signal(SIGTERM);
    daemon.Wait();
  }

  Setup many = WriteConfig(dir, "many", remote, n, folders);
  // The `git receive-pack` a file:// push spawns is the remote's side of it: Git's trace of it
  // gives the remote's own time, apart from the daemon's. The daemon passes no GIT_* variable
  // to its children, so the trace is asked for in Git's global config (trace2.eventTarget).
  std::string trace = dir / "trace2.json";
  WriteFile(dir / "xdg/git/config", "[trace2]\n\teventTarget = " + trace + "\n");
  env["XDG_CONFIG_HOME"] = dir / "xdg";
  auto t0 = Clock::now();
  DaemonProcess daemon(binary, many.cfg, dir.path(), env);
  size_t from = 0;
  if (!WaitFor([&] { return AllPulled(many, n, &from); }, std::chrono::seconds(1800), std::chrono::milliseconds(10))) {
    std::fprintf(stderr, "only %zu of %zu folders were pulled after 1800 s:\n%s", from, n, daemon.Log().c_str());
    return 1;
  }
  double pulled_s = std::chrono::duration<double>(Clock::now() - t0).count();
  // Let the first passes' bookkeeping (state.json, maintenance) finish before idling.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  double cpu0 = CpuSeconds(daemon.pid());
  auto i0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(idle_s));
  double idle_cpu_pct =
      100.0 * (CpuSeconds(daemon.pid()) - cpu0) / std::chrono::duration<double>(Clock::now() - i0).count();
  long rss_kb = StatusKb(daemon.pid(), "VmRSS");
  uint64_t state_bytes = DiskUsage(many.state);

  std::vector<double> edit_ms, receive_pack_ms;
  for (int e = 0; e < edits; ++e) {
    size_t mark = FileExists(trace) ? ReadFile(trace).size() : 0;  // none before the first push
    size_t b = (static_cast<size_t>(e) * 37) % n;
    std::string before = RemoteHead(remote);
    auto t = Clock::now();
    WriteFile(many.srv + "/b" + std::to_string(b) + "/config.yaml", "name: edited\nround: " + std::to_string(e) + "\n");
    if (!WaitFor([&] { return RemoteHead(remote) != before; }, std::chrono::seconds(30), std::chrono::milliseconds(1))) {
      std::fprintf(stderr, "edit %d in b%zu did not reach the remote:\n%s", e, b, daemon.Log().c_str());
      return 1;
    }
    edit_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the pass's bookkeeping end
    double ms = 0;
    std::string events = FileExists(trace) ? ReadFile(trace) : "";
    for (double sec : Trace2CommandSeconds(events.substr(std::min(mark, events.size())), "receive-pack")) {
      ms += sec * 1000.0;
    }
    receive_pack_ms.push_back(ms);
  }
  long hwm_kb = StatusKb(daemon.pid(), "VmHWM");
  daemon.Signal(SIGTERM);
  daemon.Wait();
  if (const char* log = std::getenv("MANY_BINDINGS_LOG"); log != nullptr && *log) WriteFile(log, daemon.Log());

  std::printf("| bindings | remote folders | all pulled after s | state MB | RSS MB (peak) | RSS with 1 binding MB "
              "| KB per idle binding | idle CPU %% of a core (%d s) | edit -> on remote p50 ms | p90 ms "
              "| of which the remote's git receive-pack p50 ms |\n",
              idle_s);
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %zu | %zu | %.1f | %.1f | %.1f (%.1f) | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f |\n", n, folders, pulled_s,
              static_cast<double>(state_bytes) / 1e6, static_cast<double>(rss_kb) / 1024.0,
              static_cast<double>(hwm_kb) / 1024.0, static_cast<double>(base_rss_kb) / 1024.0,
              static_cast<double>(rss_kb - base_rss_kb) / static_cast<double>(n - 1), idle_cpu_pct,
              Percentile(edit_ms, 0.5), Percentile(edit_ms, 0.9), Percentile(receive_pack_ms, 0.5));
  return 0;
}
