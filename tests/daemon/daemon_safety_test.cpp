// `gitsyncd run` against the hostile neighbours of a service: a second daemon started by hand
// on the same state directory, and a remote that accepts connections and then never answers
// (a black hole, a hung proxy). The daemon must stay the only writer of its state, keep
// pinging systemd's watchdog, reload, stop within seconds, and keep other remotes syncing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Listens on 127.0.0.1 and never accepts: the kernel completes each TCP handshake, then
// nothing is ever sent back.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    BOOST_REQUIRE(::listen(fd_, 64) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  std::string url(const std::string& repo) const {
    return "https://127.0.0.1:" + std::to_string(port_) + "/" + repo + ".git";
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct SafetyFixture {
  TempDir dir;
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::string cfg = dir / "etc";
  std::string state = dir / "state";
  std::map<std::string, std::string> env{{"GITSYNCD_CONFIG", ""}};

  std::string Remote(const std::string& name) { return dir / ("remotes/" + name + ".git"); }
  std::string Local(const std::string& name) { return dir / ("srv/" + name); }
  std::string WorkDir(const std::string& name) {
    std::filesystem::create_directories(dir / name);
    return dir / name;
  }
  void WriteDaemonConfig(const std::string& config_dir, const std::string& extra = "") {
    WriteFile(config_dir + "/gitsyncd.yaml", "state_dir: " + state + "\n" + extra);
  }
  // A connector with one binding per name in `syncs` (binding NAME, folder srv/NAME).
  void WriteConnector(const std::string& config_dir, const std::string& name, const std::string& url,
                      const std::vector<std::string>& syncs) {
    std::string yaml = "name: " + name + "\nprovider: git\nurl: " + url + "\nsyncs:\n";
    for (const auto& s : syncs) yaml += "  - name: " + s + "\n    local: " + Local(s) + "\n";
    WriteFile(config_dir + "/connectors.d/" + name + ".yaml", yaml);
  }
  void FileConnector(const std::string& config_dir, const std::string& name) {
    if (!std::filesystem::exists(Remote(name))) InitBareRepo(Remote(name));
    WriteConnector(config_dir, name, "file://" + Remote(name), {name + "-app"});
  }
  bool OnRemote(const std::string& name, const std::string& file, const std::string& content) {
    return ShowFile(Remote(name), "main", file) == content;
  }
  CommandResult Cli(const std::string& config_dir, std::vector<std::string> args, int timeout_s = 60) {
    args.insert(args.begin(), {binary, "--config", config_dir});
    return RunCommand(args, env, "", "", timeout_s);
  }
  // Starts the daemon, runs `sync-now BINDING` once, stops it; `took`: sync-now's seconds.
  CommandResult SyncNowOnce(const std::string& binding, double* took) {
    DaemonProcess daemon(binary, cfg, WorkDir("daemon"), env);
    BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
    Clock::time_point start = Clock::now();
    CommandResult now = Cli(cfg, {"sync-now", binding});
    *took = Seconds(Clock::now() - start);
    daemon.Signal(SIGTERM);
    BOOST_TEST(daemon.Wait() == 0);
    return now;
  }
};

// The longest wait between two WATCHDOG=1 pings received in [from, to].
double LongestWatchdogGap(const DaemonProcess& daemon, Clock::time_point from, Clock::time_point to) {
  Clock::time_point last = from;
  double longest = 0;
  for (size_t i = 0; i < daemon.notifications().size(); ++i) {
    Clock::time_point t = daemon.notification_times()[i];
    if (t < from || t > to || daemon.notifications()[i].find("WATCHDOG=1") == std::string::npos) continue;
    longest = std::max(longest, Seconds(t - last));
    last = t;
  }
  return std::max(longest, Seconds(to - last));
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(daemon_safety, SafetyFixture)

BOOST_AUTO_TEST_CASE(a_second_run_on_the_same_state_dir_exits_and_leaves_the_first_daemon_working) {
  WriteDaemonConfig(cfg);
  FileConnector(cfg, "one");
  DaemonProcess first(binary, cfg, WorkDir("first"), env);
  BOOST_REQUIRE_MESSAGE(first.WaitForNotify("READY=1"), first.Log());
  WriteFile(Local("one-app") + "/a.yaml", "a: 1\n");
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return OnRemote("one", "a.yaml", "a: 1\n"); }), first.Log());
  first.Collect(2s);  // the first daemon is idle now: no pass of its own runs until a trigger
  // A lock libgit2 holds while the first daemon writes a ref: a second daemon must not take it
  // for a crash's leftover.
  std::string held_lock = state + "/bindings/one-app/repo/refs/heads/held.lock";
  WriteFile(held_lock, "");

  // Started by hand while the service runs: its own config dir, connector and port.
  std::string cfg2 = dir / "etc2";
  int port2 = FreePort();
  WriteDaemonConfig(cfg2, "listen:\n  port: " + std::to_string(port2) + "\n");
  FileConnector(cfg2, "two");
  CommandResult second = Cli(cfg2, {"run"}, 30);
  BOOST_TEST(second.exit_code == 1, second.err);
  BOOST_TEST(second.err == "gitsyncd: error: another gitsyncd (pid " + std::to_string(first.pid()) +
                               ") is running with state_dir " + state + "\n");
  BOOST_TEST(FileExists(held_lock));
  BOOST_TEST(!std::filesystem::exists(Local("two-app")));
  BOOST_TEST(!std::filesystem::exists(state + "/bindings/two-app"));

  // The first daemon's control socket still answers.
  CommandResult status = Cli(cfg, {"status", "--json"});
  BOOST_TEST(status.exit_code == 0, status.err);
  std::filesystem::remove(held_lock);
  WriteFile(Local("one-app") + "/a.yaml", "a: 2\n");
  CommandResult now = Cli(cfg, {"sync-now", "one-app"});
  BOOST_TEST(now.exit_code == 0, now.err);
  BOOST_TEST(OnRemote("one", "a.yaml", "a: 2\n"), now.out + first.Log());

  // Once the first one stops, the state directory is free again.
  first.Signal(SIGTERM);
  BOOST_REQUIRE(first.Wait() == 0);
  DaemonProcess later(binary, cfg2, WorkDir("later"), env);
  BOOST_TEST(later.WaitForNotify("READY=1"), later.Log());
  later.Signal(SIGTERM);
  BOOST_TEST(later.Wait() == 0);
}

// The freeze reported in issue 13: sync-now on a silent remote, then SIGHUP, then SIGTERM.
BOOST_AUTO_TEST_CASE(a_silent_remote_neither_stops_the_watchdog_nor_holds_up_reload_and_shutdown) {
  SilentServer silent;
  WriteDaemonConfig(cfg);  // io_timeout stays at its 30 s default: longer than this test waits
  WriteConnector(cfg, "hung", silent.url("hung"), {"hung-app"});
  env["WATCHDOG_USEC"] = "1000000";  // a ping every 0.5 s
  DaemonProcess daemon(binary, cfg, WorkDir("daemon"), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());

  CommandResult sync_now;
  Clock::time_point sync_now_done;
  std::thread waiter([&] {
    sync_now = Cli(cfg, {"sync-now", "hung-app"});
    sync_now_done = Clock::now();
  });
  daemon.Collect(1500ms);  // sync-now is now waiting in the daemon for the hung pass

  Clock::time_point hup = Clock::now();
  size_t seen = daemon.notifications().size();
  daemon.Signal(SIGHUP);
  BOOST_TEST(daemon.WaitForNotifyAfter(seen, "RELOADING=1", 5s));
  BOOST_TEST(daemon.WaitForNotifyAfter(seen, "READY=1", 15s), daemon.Log());
  double reload_took = Seconds(Clock::now() - hup);
  BOOST_TEST(reload_took < 10.0, "the reload waited " << reload_took << " s");
  daemon.Collect(1500ms);  // the new engine's first pass hangs on the remote again

  Clock::time_point term = Clock::now();
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait(15s) == 0, daemon.Log());
  double stop_took = Seconds(Clock::now() - term);
  BOOST_TEST(stop_took < 5.0, "the daemon took " << stop_took << " s to stop");
  waiter.join();

  double gap = LongestWatchdogGap(daemon, hup, term);
  BOOST_TEST(gap < 1.6, "no WATCHDOG=1 for " << gap << " s while the pass hung");
  // sync-now answered once the reload cancelled the pass, not after the I/O timeout.
  BOOST_TEST(sync_now.exit_code == 1, sync_now.out + sync_now.err);
  BOOST_TEST(Seconds(sync_now_done - hup) < 10.0);
  std::string log = daemon.Log();
  BOOST_TEST(log.find("connection to 127.0.0.1:" + std::to_string(silent.port()) +
                      " cancelled: gitsyncd is stopping or reloading") != std::string::npos,
             log);
}

BOOST_AUTO_TEST_CASE(a_remote_that_stops_sending_fails_its_pass_after_io_timeout) {
  SilentServer silent;
  WriteDaemonConfig(cfg, "io_timeout: 2s\n");
  WriteConnector(cfg, "hung", silent.url("hung"), {"hung-app"});
  double took = 0;
  CommandResult now = SyncNowOnce("hung-app", &took);
  BOOST_TEST(now.exit_code == 1);
  BOOST_TEST(now.err.find("no data from 127.0.0.1:" + std::to_string(silent.port()) + " for 2 s") != std::string::npos,
             now.err);
  // The queued pass behind the first one's timeout, then its own 2 s.
  BOOST_TEST(took < 10.0, "sync-now took " << took << " s");
}

// Over SSH libssh2 waits on the socket itself, with no timeout of its own; the engine's idle
// check shuts the silent connection down.
BOOST_AUTO_TEST_CASE(a_silent_ssh_server_fails_its_pass_after_io_timeout) {
  SilentServer silent;
  RunCommand({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", dir / "client_key"});
  env["GITSYNCD_TEST_KEY"] = ReadFile(dir / "client_key");
  WriteFile(dir / "known_hosts", "");
  WriteDaemonConfig(cfg, "io_timeout: 2s\n");
  WriteFile(cfg + "/connectors.d/ssh.yaml",
            "name: ssh\nprovider: git\nurl: ssh://git@127.0.0.1:" + std::to_string(silent.port()) +
                "/cfg.git\nauth:\n  ssh_key: {env: GITSYNCD_TEST_KEY}\n  known_hosts: " + (dir / "known_hosts") +
                "\nsyncs:\n  - name: ssh-app\n    local: " + Local("ssh-app") + "\n");
  double took = 0;
  CommandResult now = SyncNowOnce("ssh-app", &took);
  BOOST_TEST(now.exit_code == 1);
  std::string where = "127.0.0.1:" + std::to_string(silent.port());
  BOOST_TEST(now.err.find("could not reach " + where + " (no data from " + where + " for 2 s)") != std::string::npos,
             now.err);
  BOOST_TEST(took < 15.0, "sync-now took " << took << " s");
}

// Three bindings on a hung remote, queued first, and two workers: the remote may hold only one
// of them, so the healthy binding's first pass and later edits go through at once.
BOOST_AUTO_TEST_CASE(bindings_on_a_healthy_remote_keep_syncing_while_another_remote_hangs) {
  SilentServer silent;
  WriteDaemonConfig(cfg, "workers: 2\nio_timeout: 5m\n");
  WriteConnector(cfg, "hung", silent.url("hung"), {"hung-a", "hung-b", "hung-c"});
  FileConnector(cfg, "other");  // "other-app" is queued after "hung-*"
  DaemonProcess daemon(binary, cfg, WorkDir("daemon"), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  for (int i = 1; i <= 3; ++i) {
    std::string content = "edit: " + std::to_string(i) + "\n";
    WriteFile(Local("other-app") + "/a.yaml", content);
    BOOST_TEST(WaitFor([&] { return OnRemote("other", "a.yaml", content); }, 10s), daemon.Log());
  }
  // The hung passes were really hanging meanwhile (not failed fast).
  BOOST_TEST(daemon.Log().find("no data from") == std::string::npos);
  Clock::time_point term = Clock::now();
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait(15s) == 0);
  BOOST_TEST(Seconds(Clock::now() - term) < 5.0);
}

BOOST_AUTO_TEST_SUITE_END()
