// `gitsyncd run` as systemd drives it: a NOTIFY_SOCKET owned by the test receives READY=1,
// STATUS=, WATCHDOG=1 (with WATCHDOG_USEC set) and STOPPING=1; SIGHUP reloads connectors
// added, changed and removed, and a broken config is rejected with its file:line errors while
// the running one keeps syncing. Remotes are local bare repositories (file://) for speed.
#include <signal.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/http_client.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

struct ServiceFixture {
  TempDir dir;
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::string cfg = dir / "etc";
  std::map<std::string, std::string> env{{"GITSYNCD_CONFIG", ""}};

  ServiceFixture() {
    WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\n");
    AddConnector("one");
  }
  std::string Remote(const std::string& name) { return dir / ("remotes/" + name + ".git"); }
  std::string Local(const std::string& name) { return dir / ("srv/" + name); }
  void AddConnector(const std::string& name) {
    if (!std::filesystem::exists(Remote(name))) InitBareRepo(Remote(name));
    WriteFile(cfg + "/connectors.d/" + name + ".yaml",
              "name: " + name + "\nprovider: git\nurl: file://" + Remote(name) + "\nsyncs:\n  - name: " + name +
                  "-app\n    local: " + Local(name) + "\n");
  }
  bool OnRemote(const std::string& name, const std::string& file, const std::string& content) {
    return ShowFile(Remote(name), "main", file) == content;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(service, ServiceFixture)

BOOST_AUTO_TEST_CASE(ready_status_watchdog_and_stopping_reach_systemd) {
  env["WATCHDOG_USEC"] = "200000";
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  BOOST_TEST(daemon.WaitForNotify("STATUS=1 connectors, 1 sync bindings"));
  BOOST_TEST(daemon.WaitForNotify("WATCHDOG=1", 3s));
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
  BOOST_TEST(daemon.WaitForNotify("STOPPING=1", 1s));
}

BOOST_AUTO_TEST_CASE(sighup_adds_changes_and_removes_connectors_and_rejects_a_broken_config) {
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  WriteFile(Local("one") + "/a.yaml", "a: 1\n");
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return OnRemote("one", "a.yaml", "a: 1\n"); }), daemon.Log());

  // Added: a second connector starts syncing after SIGHUP.
  AddConnector("two");
  size_t seen = daemon.notifications().size();
  daemon.Signal(SIGHUP);
  BOOST_REQUIRE(daemon.WaitForNotifyAfter(seen, "RELOADING=1"));
  BOOST_REQUIRE(daemon.WaitForNotifyAfter(seen, "READY=1\nSTATUS=2 connectors, 2 sync bindings"));
  WriteFile(Local("two") + "/b.yaml", "b: 1\n");
  BOOST_TEST(WaitFor([&] { return OnRemote("two", "b.yaml", "b: 1\n"); }), daemon.Log());

  // Broken: rejected with file:line, and the running config keeps syncing.
  WriteFile(cfg + "/connectors.d/three.yaml", "name: three\nprovider: gitlabb\n");
  seen = daemon.notifications().size();
  daemon.Signal(SIGHUP);
  BOOST_REQUIRE(daemon.WaitForNotifyAfter(seen, "STATUS=reload rejected; 2 connectors, 2 sync bindings"));
  BOOST_TEST(daemon.Log().find("connectors.d/three.yaml:2:11: provider:") != std::string::npos, daemon.Log());
  WriteFile(Local("one") + "/a.yaml", "a: 2\n");
  BOOST_TEST(WaitFor([&] { return OnRemote("one", "a.yaml", "a: 2\n"); }), daemon.Log());

  // Removed (and the broken file fixed by removing it): one connector left.
  std::filesystem::remove(cfg + "/connectors.d/three.yaml");
  std::filesystem::remove(cfg + "/connectors.d/two.yaml");
  seen = daemon.notifications().size();
  daemon.Signal(SIGHUP);
  BOOST_REQUIRE(daemon.WaitForNotifyAfter(seen, "READY=1\nSTATUS=1 connectors, 1 sync bindings"));
  WriteFile(Local("two") + "/b.yaml", "b: not synced any more\n");
  WriteFile(Local("one") + "/a.yaml", "a: 3\n");
  BOOST_TEST(WaitFor([&] { return OnRemote("one", "a.yaml", "a: 3\n"); }), daemon.Log());
  BOOST_TEST(OnRemote("two", "b.yaml", "b: 1\n"));

  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}

BOOST_AUTO_TEST_CASE(json_logs_and_the_admin_token_never_logged) {
  int port = FreePort(), operator_port = FreePort();
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nlog_level: debug\nlog_format: json\n"
                                    "listen:\n  address: 0.0.0.0\n  port: " + std::to_string(port) +
                                    "\noperator:\n  listen: 127.0.0.1:" + std::to_string(operator_port) +
                                    "\n  admin_token: {env: GITSYNCD_ADMIN}\n");
  const std::string admin = "adm-7f3c9e1b-token";
  env["GITSYNCD_ADMIN"] = admin;
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  WriteFile(Local("one") + "/a.yaml", "a: 1\n");
  BOOST_REQUIRE(WaitFor([&] { return OnRemote("one", "a.yaml", "a: 1\n"); }));

  // With an admin token, loopback needs it too.
  BOOST_TEST(HttpExchange(operator_port, BuildRequest("GET", "/metrics", {}, "")).status == 401);
  HttpReply ok = HttpExchange(operator_port,
                              BuildRequest("GET", "/api/v1/status", {{"Authorization", "Bearer " + admin}}, ""));
  BOOST_TEST(ok.status == 200, ok.body);
  BOOST_TEST(ok.body.find("\"one-app\"") != std::string::npos);
  std::string ip = NonLoopbackAddress();
  if (ip.empty()) {
    BOOST_TEST_MESSAGE("no non-loopback IPv4 address on this machine: the off-loopback checks are not run");
  } else {
    // The public listener has no operator endpoint, token or not; health needs none.
    BOOST_TEST(HttpExchange(port, BuildRequest("GET", "/metrics", {{"Authorization", "Bearer " + admin}}, ""), 5000, ip)
                   .status == 404);
    BOOST_TEST(HttpExchange(port, BuildRequest("GET", "/healthz", {}, ""), 5000, ip).status == 200);
  }
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);

  // Every log line is one JSON object with time, level and msg; the token never appears.
  std::string log = daemon.Log();
  size_t lines = 0;
  for (size_t start = 0; start < log.size();) {
    size_t end = log.find('\n', start);
    std::string line = log.substr(start, end == std::string::npos ? std::string::npos : end - start);
    start = end == std::string::npos ? log.size() : end + 1;
    if (line.empty()) continue;
    ++lines;
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    BOOST_REQUIRE_MESSAGE(!ec && v.is_object(), "not a JSON line: " + line);
    BOOST_TEST(v.as_object().contains("time"));
    BOOST_TEST(v.as_object().contains("level"));
    BOOST_TEST(v.as_object().contains("msg"));
  }
  BOOST_TEST(lines > 3u);
  BOOST_TEST(log.find(admin) == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
