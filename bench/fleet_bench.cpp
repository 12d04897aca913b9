// A fleet on loopback (docs/fleet.md): a real 3-member etcd cluster, N `gitsyncd run`
// instances that all run the binding `web` (each its own folder), the real HTTPS Git server.
//  1. Delivery latency: a push made with the git CLI (not timed), then the clock runs from the
//     signed POST to instance 0 until the file has the new content in the folders of all N
//     instances (and of the first one). Polling is off: only the fleet can bring it.
//  2. etcd cost per delivery: requests and bytes the etcd members count (grpc_server_started_total,
//     etcd_network_client_grpc_{received,sent}_bytes_total, summed over the members; the JSON
//     gateway is a gRPC client of its own member), minus what the idle fleet costs over the same
//     time (lease renewals, member records), divided by the rounds.
//  3. Failover: the owner of the exclusive binding `on-nfs` is killed with SIGKILL right after a
//     commit for its folder was pushed; the clock runs until that commit is in the shared folder
//     (takeover by another instance plus its first pass). lease_ttl 2 s.
//  4. CPU per delivery: user + system time of the instances, the Git server (nginx, fcgiwrap
//     and the git processes under it) and etcd from the POST until every folder had the file,
//     and of the idle fleet: what the cores spent, whatever else runs on the machine.
//  5. Steal: the share of the machine's CPU time the hypervisor gave to other guests while the
//     deliveries ran (/proc/stat), so a slow run on a shared host can be told from a slow fleet.
// FLEET_BENCH_LOGS=DIR: the instances log at debug level (millisecond times of trigger,
// publish, watch event, pass), and DIR gets their logs and the Git server's access log.
//
// Usage: fleet_bench GITSYNCD_BINARY [INSTANCES] [ROUNDS] [FAILOVERS]   (default 10 20 3)
// The instances relay fetched objects through etcd (cluster.relay_key, docs/fleet.md); with
// FLEET_BENCH_NO_RELAY set in the environment each instance fetches for itself.
#include <boost/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/etcd_server.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/github_push.h"
#include "tests/support/http_client.h"
#include "tests/support/wait_for.h"
#include "webhooks/webhook_verifier.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Sum over the members of the etcd counters (Prometheus text at /metrics).
struct EtcdCounters {
  double requests = 0, received = 0, sent = 0;
};
EtcdCounters ReadCounters(const EtcdCluster& etcd, int members) {
  EtcdCounters c;
  for (int i = 0; i < members; ++i) {
    CommandResult r = RunCommand({"curl", "-s", "--max-time", "5", etcd.endpoint(i) + "/metrics"});
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      double value = std::atof(line.substr(line.rfind(' ') + 1).c_str());
      if (line.rfind("grpc_server_started_total{", 0) == 0) c.requests += value;
      if (line.rfind("etcd_network_client_grpc_received_bytes_total ", 0) == 0) c.received += value;
      if (line.rfind("etcd_network_client_grpc_sent_bytes_total ", 0) == 0) c.sent += value;
    }
  }
  return c;
}

// CPU time (user + system, with that of reaped children) of this program's descendants, by
// kind, in ms: where a delivery's work goes on the machine's cores.
struct Cpu {
  double gitsyncd = 0, git_server = 0, etcd = 0, other = 0;
  double total() const { return gitsyncd + git_server + etcd + other; }
  Cpu operator-(const Cpu& o) const {
    return {gitsyncd - o.gitsyncd, git_server - o.git_server, etcd - o.etcd, other - o.other};
  }
  Cpu& operator+=(const Cpu& o) {
    gitsyncd += o.gitsyncd, git_server += o.git_server, etcd += o.etcd, other += o.other;
    return *this;
  }
};
// The machine's steal and total CPU ticks so far (/proc/stat, first line).
std::pair<double, double> StealTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double v[8] = {0};
  in >> cpu;
  double total = 0;
  for (double& x : v) {
    in >> x;
    total += x;
  }
  return {v[7], total};
}

Cpu DescendantCpu() {
  struct Proc {
    std::string comm;
    int ppid = 0;
    double ms = 0;
  };
  std::map<int, Proc> procs;
  double tick_ms = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat;
    try {
      stat = ReadFile(e.path() / "stat");
    } catch (...) {
      continue;  // gone meanwhile
    }
    size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(rest), {}};
    if (f.size() < 15) continue;  // state ppid ... utime(11) stime(12) cutime(13) cstime(14)
    double ticks = std::atof(f[11].c_str()) + std::atof(f[12].c_str()) + std::atof(f[13].c_str()) +
                   std::atof(f[14].c_str());
    procs[std::atoi(name.c_str())] = {stat.substr(open + 1, close - open - 1), std::atoi(f[1].c_str()), ticks * tick_ms};
  }
  Cpu c;
  int self = getpid();
  for (const auto& [pid, p] : procs) {
    // The kind is that of the nearest server among the process and its ancestors (git and
    // git-http-backend under fcgiwrap are the Git server's); only this program's descendants
    // count. A reaped child's time is in its parent's (cutime), never counted twice.
    double* kind = nullptr;
    bool mine = false;
    for (int up = pid, hops = 0; up > 1 && hops < 32 && !mine; ++hops) {
      auto it = procs.find(up);
      if (it == procs.end()) break;
      const std::string& comm = it->second.comm;
      if (!kind && comm == "gitsyncd") kind = &c.gitsyncd;
      if (!kind && (comm == "nginx" || comm == "fcgiwrap")) kind = &c.git_server;
      if (!kind && comm == "etcd") kind = &c.etcd;
      mine = it->second.ppid == self;
      up = it->second.ppid;
    }
    if (mine) *(kind ? kind : &c.other) += p.ms;
  }
  return c;
}

struct Fleet {
  TempDir dir;
  EtcdCluster etcd{3};
  GitHttpsServer server{"deploy", "bench-pass"};
  std::string binary;
  int instances;
  std::vector<std::string> names;
  std::vector<int> ports;
  std::map<std::string, std::unique_ptr<DaemonProcess>> d;
  std::map<std::string, std::string> env{{"BENCH_PASS", "bench-pass"}, {"BENCH_SECRET", "bench-hook-secret"},
                                         {"BENCH_RELAY_KEY", "bench-relay-key-0123456789abcdefghijklmnop"},
                                         {"GITSYNCD_CONFIG", ""}};
  std::string path;
  // FLEET_BENCH_LOGS=DIR: the instances log at debug level, and their logs are written to
  // DIR/<instance>.log at the end (to see where a delivery's time goes).
  const char* logs = std::getenv("FLEET_BENCH_LOGS");

  Fleet(std::string bin, int n) : binary(std::move(bin)), instances(n) {
    server.CreateBareRepo("cfg");
    for (int i = 0; i < n; ++i) {
      names.push_back((i < 10 ? "i0" : "i") + std::to_string(i));
      ports.push_back(FreePort());
    }
    for (int i = 0; i < n; ++i) Configure(i);
  }
  void Configure(int i) {
    const std::string& name = names[i];
    std::string cfg = dir / name;
    WriteFile(cfg + "/gitsyncd.yaml",
              "state_dir: " + (dir / (name + "-state")) + (logs ? "\nlog_level: debug" : "") + "\nca_file: " + server.ca_file() +
                  "\nlisten:\n  address: 127.0.0.1\n  port: " + std::to_string(ports[i]) +
                  "\n  public_url: https://hooks.example.com/\noperator:\n  listen: \"off\"\ninstance: " + name +
                  "\ncluster:\n  endpoints: " + etcd.endpoints_yaml() + "\n  selectors: [linux]\n  lease_ttl: 2s\n" +
                       (std::getenv("FLEET_BENCH_NO_RELAY") ? "" : "  relay_key: {env: BENCH_RELAY_KEY}\n"));
    std::string auth = "provider: github\nurl: " + server.url("cfg") +
                       "\nauth:\n  username: deploy\n  password: {env: BENCH_PASS}\n";
    WriteFile(cfg + "/connectors.d/web.yaml", "name: web\n" + auth +
                                                  "webhook:\n  enabled: true\n  secret: {env: BENCH_SECRET}\n"
                                                  "  poll_interval: 0\nsyncs:\n  - name: web\n    path: app\n"
                                                  "    direction: pull\n    local: " + (dir / ("srv/" + name)) + "\n");
    WriteFile(cfg + "/connectors.d/shared.yaml", "name: shared\n" + auth +
                                                     "syncs:\n  - name: on-nfs\n    path: nfs\n    exclusive: true\n"
                                                     "    direction: pull\n    poll_interval: 1h\n    local: " +
                                                     (dir / "nfs") + "\n");
  }
  bool Start() {
    CommandResult url = RunCommand({binary, "--config", dir / names[0], "webhook-url", "web"}, env);
    if (url.exit_code != 0) {
      std::fprintf(stderr, "webhook-url failed: %s", url.err.c_str());
      return false;
    }
    path = url.out.substr(url.out.find("/webhooks/"));
    path.pop_back();
    for (const auto& name : names) {
      std::filesystem::create_directories(dir / (name + "-run"));
      d[name] = std::make_unique<DaemonProcess>(binary, dir / name, dir / (name + "-run"), env);
    }
    for (const auto& name : names) {
      if (!d[name]->WaitForNotify("READY=1", 60s)) {
        std::fprintf(stderr, "%s did not start:\n%s", name.c_str(), d[name]->Log().c_str());
        return false;
      }
    }
    return true;
  }
  void SaveLogs() {
    if (!logs) return;
    std::filesystem::create_directories(logs);
    for (const auto& [name, p] : d) WriteFile(std::string(logs) + "/" + name + ".log", p->Log());
    WriteFile(std::string(logs) + "/nginx-access.log", server.access_log());
  }
  std::string Head() {
    std::string h = Git({"--git-dir", server.repo_path("cfg"), "rev-parse", "main"}).out;
    return h.substr(0, h.find('\n'));
  }
  bool AllAt(const std::string& content) {
    for (const auto& name : names) {
      std::string f = dir / ("srv/" + name + "/value.yaml");
      if (!d[name] || !FileExists(f) || ReadFile(f) != content) return false;
    }
    return true;
  }
  std::string Owner() {
    std::string kv = etcd.GetPrefix("/gitsyncd/owners/on-nfs");
    if (kv.empty()) return "";
    std::string value = kv.substr(kv.find('\n') + 1);
    return value.substr(0, value.find('\n'));
  }
};

// What the idle fleet costs over 10 s, to subtract from the deliveries' share.
struct Idle {
  EtcdCounters before, after;
  Cpu cpu;
  double seconds = 0;
};

Idle MeasureIdle(Fleet& f) {
  Idle idle;
  idle.before = ReadCounters(f.etcd, 3);
  Cpu cpu0 = DescendantCpu();
  auto start = Clock::now();
  std::this_thread::sleep_for(10s);
  idle.cpu = DescendantCpu() - cpu0;
  idle.after = ReadCounters(f.etcd, 3);
  idle.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return idle;
}

struct Deliveries {
  std::vector<double> first, all;  // ms: POST -> the receiver's folder, -> every folder
  Cpu cpu;                         // from each POST until every folder had the file
  double ms = 0;                   // the sum of `all`
};

// Round `r`: a push, then the signed POST to the first instance; false when it failed.
bool Deliver(Fleet& f, GitClone& person, int r, Deliveries* out) {
  std::string before = f.Head();
  std::string want = "round: " + std::to_string(r) + "\n";
  person.Write("app/value.yaml", want);
  person.CommitAndPush("round " + std::to_string(r));
  std::string body = GitHubPushPayload(before, f.Head());
  Cpu cpu0 = DescendantCpu();
  auto t0 = Clock::now();
  auto posted = std::chrono::system_clock::now();
  HttpReply reply = HttpExchange(f.ports[0], BuildRequest("POST", f.path,
                                                          {{"Content-Type", "application/json"},
                                                           {"X-GitHub-Event", "push"},
                                                           {"X-GitHub-Delivery", "bench-" + std::to_string(r)},
                                                           {"X-Hub-Signature-256",
                                                            "sha256=" + HmacHex("bench-hook-secret", body)}},
                                                          body));
  if (reply.status != 202) {
    std::fprintf(stderr, "delivery answered %d: %s\n", reply.status, reply.body.c_str());
    return false;
  }
  bool got_first = false;
  bool done = WaitFor([&] {
    if (!got_first) {
      std::string f0 = f.dir / ("srv/" + f.names[0] + "/value.yaml");
      if (FileExists(f0) && ReadFile(f0) == want) {
        out->first.push_back(Ms(Clock::now() - t0));
        got_first = true;
      }
    }
    return f.AllAt(want);
  }, 30s, 2ms);
  if (!done) {
    std::fprintf(stderr, "round %d: not every folder updated within 30 s\n", r);
    return false;
  }
  out->all.push_back(Ms(Clock::now() - t0));
  out->cpu += DescendantCpu() - cpu0;
  out->ms += out->all.back();
  if (f.logs) {
    std::time_t t = std::chrono::system_clock::to_time_t(posted);
    std::tm tm{};
    localtime_r(&t, &tm);
    char at[32];
    std::strftime(at, sizeof at, "%H:%M:%S", &tm);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(posted.time_since_epoch()).count() % 1000;
    std::fprintf(stderr, "round %d: posted at %s.%03lld, receiving instance %.1f ms, all %.1f ms\n", r, at,
                 static_cast<long long>(ms), out->first.back(), out->all.back());
  }
  return true;
}

// `etcd`: the counters over the `seconds` the rounds took; `steal`: the machine's steal share.
void PrintDeliveries(const Fleet& f, const Deliveries& d, const Idle& idle, const EtcdCounters& etcd, double seconds,
                     double steal) {
  int n = static_cast<int>(f.names.size());
  int rounds = static_cast<int>(d.all.size());
  auto per_delivery = [&](double during, double idle_part) {
    return (during - idle_part / idle.seconds * seconds) / rounds;
  };
  std::printf("fleet: %d instances, 3 etcd members, %d deliveries to instance %s\n", n, rounds, f.names[0].c_str());
  std::printf("POST -> file in the receiving instance's folder: p50 %.1f ms  p99 %.1f ms  max %.1f ms\n",
              Percentile(d.first, 0.5), Percentile(d.first, 0.99), Percentile(d.first, 1.0));
  std::printf("POST -> file in all %d folders:                 p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", n,
              Percentile(d.all, 0.5), Percentile(d.all, 0.99), Percentile(d.all, 1.0));
  std::printf("etcd per delivery (idle fleet subtracted): %.1f requests, %.0f bytes received, %.0f bytes sent\n",
              per_delivery(etcd.requests, idle.after.requests - idle.before.requests),
              per_delivery(etcd.received, idle.after.received - idle.before.received),
              per_delivery(etcd.sent, idle.after.sent - idle.before.sent));
  std::printf("etcd idle fleet: %.1f requests/s, %.0f bytes/s received, %.0f bytes/s sent\n",
              (idle.after.requests - idle.before.requests) / idle.seconds,
              (idle.after.received - idle.before.received) / idle.seconds,
              (idle.after.sent - idle.before.sent) / idle.seconds);
  // From the POST until every folder had the file, in CPU ms per delivery (the idle fleet's
  // share over the same time not subtracted: it competes for the cores too).
  std::printf("CPU per delivery (POST -> all folders): gitsyncd %.0f ms, Git server %.0f ms, etcd %.0f ms, "
              "other %.0f ms; total %.0f ms = %.2f cores busy over the %.0f ms\n",
              d.cpu.gitsyncd / rounds, d.cpu.git_server / rounds, d.cpu.etcd / rounds, d.cpu.other / rounds,
              d.cpu.total() / rounds, d.cpu.total() / d.ms, d.ms / rounds);
  std::printf("CPU of the idle fleet: gitsyncd %.1f%%, etcd %.1f%%, Git server %.1f%% of a core\n",
              idle.cpu.gitsyncd / idle.seconds / 10, idle.cpu.etcd / idle.seconds / 10,
              idle.cpu.git_server / idle.seconds / 10);
  std::printf("steal while the deliveries ran: %.1f%% of the machine's CPU time (the hypervisor's other guests)\n",
              steal);
}

// Kills the owner of `on-nfs` right after a commit for it, `failovers` times; false on a miss.
bool RunFailovers(Fleet& f, GitClone& person, int failovers) {
  std::vector<double> takeovers;
  for (int k = 1; k <= failovers && static_cast<int>(f.d.size()) > 1; ++k) {
    std::string owner = f.Owner();
    std::string want = std::to_string(k) + "\n";
    // A new file: the new owner has no state of its own for the shared folder, and a file that
    // differs from the branch without a base is kept as a local edit, never overwritten.
    std::string file = "nfs/new-" + std::to_string(k) + ".txt";
    person.Write(file, want);
    person.CommitAndPush("nfs " + std::to_string(k));
    f.d[owner]->Kill();
    auto t0 = Clock::now();
    f.d.erase(owner);
    bool done = WaitFor([&] { return FileExists(f.dir / file) && ReadFile(f.dir / file) == want; }, 60s, 5ms);
    if (!done) {
      std::fprintf(stderr, "failover %d: the shared folder did not get the commit within 60 s\n", k);
      for (const auto& [name, p] : f.d) {
        std::istringstream log(p->Log());
        for (std::string line; std::getline(log, line);) {
          if (line.find("on-nfs") != std::string::npos) std::fprintf(stderr, "%s: %s\n", name.c_str(), line.c_str());
        }
      }
      return false;
    }
    takeovers.push_back(Ms(Clock::now() - t0));
    std::printf("failover %d: %s killed, %s took over; commit in the shared folder after %.0f ms\n", k, owner.c_str(),
                f.Owner().c_str(), takeovers.back());
  }
  if (!takeovers.empty()) {
    std::printf("failover after kill -9 (lease_ttl 2 s): p50 %.0f ms  max %.0f ms\n", Percentile(takeovers, 0.5),
                Percentile(takeovers, 1.0));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s GITSYNCD_BINARY [INSTANCES] [ROUNDS] [FAILOVERS]\n", argv[0]);
    return 2;
  }
  int n = argc > 2 ? std::atoi(argv[2]) : 10;
  int rounds = argc > 3 ? std::atoi(argv[3]) : 20;
  int failovers = argc > 4 ? std::atoi(argv[4]) : 3;
  Fleet f(argv[1], n);
  GitClone person(f.server.url_with_credentials("cfg"), f.dir / "person", "main", f.server.git_env());
  person.Write("app/value.yaml", "round: 0\n");
  person.Write("nfs/value.txt", "0\n");
  person.CommitAndPush("seed");
  if (!f.Start()) return 1;
  if (!WaitFor([&] { return f.AllAt("round: 0\n") && !f.Owner().empty(); }, 60s)) {
    std::fprintf(stderr, "the fleet did not sync the seed\n");
    return 1;
  }
  std::this_thread::sleep_for(3s);  // first passes and member records settle
  Idle idle = MeasureIdle(f);

  Deliveries d;
  EtcdCounters c0 = ReadCounters(f.etcd, 3);
  auto start = Clock::now();
  auto steal0 = StealTicks();
  for (int r = 1; r <= rounds; ++r) {
    if (!Deliver(f, person, r, &d)) return 1;
    std::this_thread::sleep_for(200ms);  // member records of this round settle
  }
  EtcdCounters c1 = ReadCounters(f.etcd, 3);
  auto steal1 = StealTicks();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  double steal = steal1.second > steal0.second ? 100 * (steal1.first - steal0.first) / (steal1.second - steal0.second) : 0;
  PrintDeliveries(f, d, idle, EtcdCounters{c1.requests - c0.requests, c1.received - c0.received, c1.sent - c0.sent},
                  seconds, steal);
  f.SaveLogs();
  return RunFailovers(f, person, failovers) ? 0 : 1;
}
