// The status page at / in a real browser: headless Chromium (Debian `chromium`) loads it from
// a running `gitsyncd run`, its script fetches /api/v1/status and renders each binding; the
// test reads the rendered DOM and keeps a screenshot in the build tree (printed path).
#include <signal.h>

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

std::vector<std::string> Chromium(const std::string& profile) {
  return {"chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--no-first-run", "--user-data-dir=" + profile, "--virtual-time-budget=5000"};
}

}  // namespace

BOOST_AUTO_TEST_CASE(status_page_renders_each_binding_in_a_browser) {
  TempDir dir;
  std::string cfg = dir / "etc", remote = dir / "remote.git", local = dir / "srv/app";
  InitBareRepo(remote);
  int port = FreePort();
  WriteFile(cfg + "/gitsyncd.yaml",
            "state_dir: " + (dir / "state") + "\noperator:\n  listen: 127.0.0.1:" + std::to_string(port) + "\n");
  WriteFile(cfg + "/connectors.d/team.yaml", "name: team\nprovider: git\nurl: file://" + remote +
                                                 "\nsyncs:\n  - name: app\n    local: " + local + "\n");
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  DaemonProcess daemon(binary, cfg, dir.path(), {{"GITSYNCD_CONFIG", ""}});
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  WriteFile(local + "/replicas.yaml", "replicas: 2\n");
  BOOST_REQUIRE(WaitFor([&] { return ShowFile(remote, "main", "replicas.yaml") == "replicas: 2\n"; }));
  BOOST_REQUIRE(WaitFor([&] {
    auto s = HttpExchange(port, BuildRequest("GET", "/api/v1/status", {}, ""));
    return s.body.find("\"last_synced_commit\":\"\"") == std::string::npos;
  }));
  // A later edit is decided from the watcher's paths alone, without scanning the folder.
  WriteFile(local + "/replicas.yaml", "replicas: 3\n");
  BOOST_REQUIRE(WaitFor([&] { return ShowFile(remote, "main", "replicas.yaml") == "replicas: 3\n"; }));
  BOOST_TEST(WaitFor([&] {
    auto s = HttpExchange(port, BuildRequest("GET", "/api/v1/status", {}, ""));
    return s.body.find("\"last_pass_incremental\":true") != std::string::npos;
  }));

  HttpReply page = HttpExchange(port, BuildRequest("GET", "/", {}, ""));
  BOOST_TEST(page.status == 200);
  BOOST_TEST(page.headers["content-security-policy"].find("default-src 'self'") == 0u);

  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  auto dump = Chromium(dir / "profile");
  dump.insert(dump.end(), {"--dump-dom", url});
  CommandResult dom = RunCommand(dump, {}, "", "", 90);
  BOOST_REQUIRE_MESSAGE(dom.exit_code == 0, dom.err);
  BOOST_TEST(dom.out.find("id=\"binding-app\"") != std::string::npos, dom.out);
  BOOST_TEST(dom.out.find("data-state=\"in sync\"") != std::string::npos, dom.out);
  BOOST_TEST(dom.out.find("1 binding(s); updated") != std::string::npos, dom.out);
  BOOST_TEST(dom.out.find(local + " ⇄ file://" + remote) != std::string::npos, dom.out);

  std::string shot = RequiredEnv("GITSYNCD_TEST_OUTPUT") + "/status-page.png";
  std::filesystem::remove(shot);
  auto snap = Chromium(dir / "profile2");
  snap.insert(snap.end(), {"--window-size=1280,400", "--screenshot=" + shot, url});
  CommandResult png = RunCommand(snap, {}, "", "", 90);
  BOOST_TEST(png.exit_code == 0, png.err);
  BOOST_REQUIRE(FileExists(shot));
  BOOST_TEST(ReadFile(shot).substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  BOOST_TEST_MESSAGE("status page screenshot: " + shot);

  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}
