// The status page at / in a real browser: headless Chromium (Debian `chromium`) loads it from
// a running `gitsyncd run`, its script fetches /api/v1/status and renders each binding; the
// test reads the rendered DOM and keeps screenshots in the build tree (printed paths).
#include <signal.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/headless_browser.h"
#include "tests/support/http_client.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

// Keeps a screenshot of `url` as GITSYNCD_TEST_OUTPUT/<name> (the build tree).
void KeepScreenshot(const std::string& profile, const std::string& url, const std::string& name, int height) {
  std::string shot = RequiredEnv("GITSYNCD_TEST_OUTPUT") + "/" + name;
  std::filesystem::remove(shot);
  auto snap = Chromium(profile);
  snap.insert(snap.end(), {"--window-size=1280," + std::to_string(height), "--screenshot=" + shot, url});
  CommandResult png = RunCommand(snap, {}, "", "", 90);
  BOOST_TEST(png.exit_code == 0, png.err);
  BOOST_REQUIRE(FileExists(shot));
  BOOST_TEST(ReadFile(shot).substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  BOOST_TEST_MESSAGE("status page screenshot: " + shot);
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
  // A standalone daemon has no fleet: the API says so, and the page keeps that section hidden.
  BOOST_TEST(HttpExchange(port, BuildRequest("GET", "/api/v1/fleet", {}, "")).status == 404);
  BOOST_TEST(page.headers["content-security-policy"].find("default-src 'self'") == 0u);

  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  std::string dom = RenderedDom(dir / "profile", url);
  BOOST_TEST(dom.find("id=\"binding-app\"") != std::string::npos, dom);
  BOOST_TEST(dom.find("data-state=\"in sync\"") != std::string::npos, dom);
  BOOST_TEST(dom.find("1 binding(s); updated") != std::string::npos, dom);
  BOOST_TEST(dom.find("<section id=\"fleet-view\" hidden") != std::string::npos, dom);
  BOOST_TEST(dom.find(local + " ⇄ file://" + remote) != std::string::npos, dom);
  // Plain Git has no web pages: the commit is shown, never linked.
  BOOST_TEST(dom.find("<a ") == std::string::npos, dom);
  KeepScreenshot(dir / "profile2", url, "status-page.png", 700);

  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}

namespace {

const std::string kHookSecret = "status-page-hook-secret-4410";
// A file name, a header value and a YAML value that run script if the page ever takes them as HTML.
const std::string kHostileName = "<img src=x onerror=document.body.dataset.pwned=1>.yaml";
const std::string kHostileHeader = "<img src=y onerror=document.body.dataset.pwned=2>";

}  // namespace

// A conflict, its passes and webhook deliveries on a GitHub-style remote: the page lists the
// passes, links the conflict's commit and branch to the provider, says how long ago the last
// success was, and shows hostile names and headers as text.
BOOST_AUTO_TEST_CASE(status_page_lists_passes_deliveries_and_linked_conflicts_and_escapes_hostile_names) {
  TempDir dir;
  GitHttpsServer server{"deploy", "Pa55-word-for-status"};
  server.CreateBareRepo("cfg");
  std::string cfg = dir / "etc", local = dir / "srv/app";
  int port = FreePort(), public_port = FreePort();
  std::map<std::string, std::string> env{{"GITSYNCD_TEST_PASSWORD", "Pa55-word-for-status"},
                                         {"GITSYNCD_HOOK_SECRET", kHookSecret},
                                         {"GITSYNCD_CONFIG", ""}};
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + server.ca_file() +
                                        "\nlisten:\n  port: " + std::to_string(public_port) +
                                        "\n  public_url: https://hooks.example.com/\noperator:\n  listen: 127.0.0.1:" +
                                        std::to_string(port) + "\n");
  WriteFile(cfg + "/connectors.d/team.yaml",
            "name: team\nprovider: github\nurl: " + server.url("cfg") +
                "\nauth:\n  username: deploy\n  password: {env: GITSYNCD_TEST_PASSWORD}\n"
                "webhook:\n  enabled: true\n  secret: {env: GITSYNCD_HOOK_SECRET}\n"
                "syncs:\n  - name: app\n    local: " + local + "\n");
  std::string binary = RequiredEnv("GITSYNCD_BINARY");

  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  person.Write(kHostileName, "owner: seed\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  {
    DaemonProcess first(binary, cfg, dir.path(), env);
    BOOST_REQUIRE_MESSAGE(first.WaitForNotify("READY=1"), first.Log());
    BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(local + "/" + kHostileName); }), first.Log());
    first.Signal(SIGTERM);
    BOOST_REQUIRE(first.Wait() == 0);
  }
  // Both sides change the file while the daemon is stopped: its first pass records a conflict.
  WriteFile(local + "/" + kHostileName, "owner: local\n");
  person.Write(kHostileName, "owner: remote\n");
  BOOST_REQUIRE(person.CommitAndPush("remote edit"));

  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  auto status = [&] {
    HttpReply r = HttpExchange(port, BuildRequest("GET", "/api/v1/status", {}, ""));
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body << daemon.Log());
    return boost::json::parse(r.body).as_object().at("bindings").as_array().at(0).as_object();
  };
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return !status().at("conflicts").as_array().empty(); }, 30s), daemon.Log());

  // A delivery with the right URL token and a hostile event and content type: recorded, refused.
  CommandResult hook = RunCommand({binary, "--config", cfg, "webhook-url", "team"}, env);
  BOOST_REQUIRE_MESSAGE(hook.exit_code == 0, hook.err);
  std::string path = hook.out.substr(std::string("https://hooks.example.com").size());
  path.pop_back();  // the newline
  HttpReply refused = HttpExchange(public_port, BuildRequest("POST", path,
                                                             {{"Content-Type", kHostileHeader},
                                                              {"X-GitHub-Event", kHostileHeader},
                                                              {"X-GitHub-Delivery", "d-1"}},
                                                             "{}"));
  BOOST_TEST(refused.status == 415, refused.body);

  boost::json::object b;
  BOOST_REQUIRE(WaitFor([&] {
    b = status();
    return !b.at("deliveries").as_array().empty() && !b.at("passes").as_array().empty();
  }));
  const auto& conflict = b.at("conflicts").as_array().at(0).as_object();
  std::string conflict_branch(conflict.at("branch").as_string());
  std::string conflict_commit(conflict.at("commit").as_string());
  std::string web = server.url("cfg").substr(0, server.url("cfg").size() - 4);  // without ".git"
  BOOST_TEST(conflict.at("branch_url").as_string() == web + "/tree/" + conflict_branch);
  BOOST_TEST(conflict.at("commit_url").as_string() == web + "/commit/" + conflict_commit);
  BOOST_TEST(conflict.at("files").as_array().at(0).as_string() == kHostileName);
  // The conflict's commit is the local side, kept on the conflict branch.
  std::string on_branch = Git({"--git-dir", server.repo_path("cfg"), "rev-parse", conflict_branch}).out;
  BOOST_TEST(on_branch.substr(0, on_branch.find('\n')) == conflict_commit);
  const auto& pass = b.at("passes").as_array().at(0).as_object();
  BOOST_TEST(pass.at("direction").as_string() == "merge");
  BOOST_TEST(pass.at("ok").as_bool());
  BOOST_TEST(pass.at("commit").as_string() == b.at("last_synced_commit").as_string());
  BOOST_TEST(pass.at("duration_ms").to_number<double>() > 0);
  BOOST_TEST(b.at("seconds_since_success").to_number<int64_t>() >= 0);
  const auto& delivery = b.at("deliveries").as_array().at(0).as_object();
  BOOST_TEST(delivery.at("status").as_int64() == 415);
  BOOST_TEST(delivery.at("event").as_string() == kHostileHeader);

  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  std::string dom = RenderedDom(dir / "profile", url);
  BOOST_TEST(dom.find("data-state=\"conflict\"") != std::string::npos, dom);
  // Nothing hostile ran or became an element: it is there as text.
  BOOST_TEST(dom.find("pwned") != std::string::npos, dom);
  BOOST_TEST(dom.find("data-pwned") == std::string::npos, dom);
  BOOST_TEST(dom.find("<img") == std::string::npos, dom);
  BOOST_TEST(dom.find("&lt;img src=x onerror=document.body.dataset.pwned=1&gt;.yaml") != std::string::npos, dom);
  BOOST_TEST(dom.find("&lt;img src=y onerror=document.body.dataset.pwned=2&gt;") != std::string::npos, dom);
  // The open conflict links to its branch and commit on the provider.
  BOOST_TEST(dom.find("href=\"" + web + "/tree/" + conflict_branch + "\"") != std::string::npos, dom);
  BOOST_TEST(dom.find("href=\"" + web + "/commit/" + conflict_commit + "\"") != std::string::npos, dom);
  // The last passes and the deliveries, per binding; the time since the last success.
  BOOST_TEST(dom.find("id=\"detail-app\"") != std::string::npos, dom);
  BOOST_TEST(dom.find("<td>merge</td>") != std::string::npos, dom);
  BOOST_TEST(dom.find("415 invalid") != std::string::npos, dom);
  BOOST_TEST(dom.find(" s ago</td>") != std::string::npos, dom);
  KeepScreenshot(dir / "profile2", url, "status-page-details.png", 1000);

  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}
