// Webhook-driven sync end to end: a real `gitsyncd run` with its listener, a real HTTPS Git
// server (nginx + git http-backend), a push made with the git CLI, and the provider's real
// payload for that push (tests/fixtures/webhooks/github-push.json with this push's ref, ids
// and repository) signed with the connector's secret. Polling is off: only the webhook can
// bring the change into the folder.
#include <signal.h>
#include <sys/resource.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/github_push.h"
#include "tests/support/wait_for.h"
#include "tests/support/http_client.h"
#include "webhooks/webhook_verifier.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

const std::string kHookSecret = "e2e-hook-secret-7731";

struct WebhookFixture {
  TempDir dir;
  GitHttpsServer server{"deploy", "Pa55-word-for-test"};
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::string cfg = dir / "etc";
  std::string local = dir / "srv/app";
  int port = FreePort(), operator_port = FreePort();
  std::map<std::string, std::string> env{{"GITSYNCD_TEST_PASSWORD", "Pa55-word-for-test"},
                                         {"GITSYNCD_HOOK_SECRET", kHookSecret},
                                         {"GITSYNCD_CONFIG", ""}};

  WebhookFixture() {
    server.CreateBareRepo("cfg");
    WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + server.ca_file() +
                                          "\nlog_level: debug\nlisten:\n  address: 127.0.0.1\n  port: " +
                                          std::to_string(port) + "\n  public_url: https://hooks.example.com/\noperator:\n  listen: 127.0.0.1:" +
                                          std::to_string(operator_port) + "\n");
    WriteFile(cfg + "/connectors.d/team.yaml",
              "name: team\nprovider: github\nurl: " + server.url("cfg") +
                  "\nauth:\n  username: deploy\n  password: {env: GITSYNCD_TEST_PASSWORD}\n"
                  "webhook:\n  enabled: true\n  secret: {env: GITSYNCD_HOOK_SECRET}\n"
                  "syncs:\n  - name: app\n    path: apps/app\n    local: " + local + "\n");
  }
  CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {binary, "--config", cfg});
    return RunCommand(args, env);
  }
  // The GitHub push payload for the current head of main.
  std::string PushPayload(const std::string& before, const std::string& after) {
    return GitHubPushPayload(before, after);
  }
  HttpReply Deliver(const std::string& path, const std::string& body, const std::string& id,
                    const std::string& secret = kHookSecret) {
    return HttpExchange(port, BuildRequest("POST", path,
                                           {{"Content-Type", "application/json"},
                                            {"X-GitHub-Event", "push"},
                                            {"X-GitHub-Delivery", id},
                                            {"X-Hub-Signature-256", "sha256=" + HmacHex(secret, body)}},
                                           body));
  }
  // Pushes a first file, starts the daemon and waits until its first pass brought the file.
  std::unique_ptr<DaemonProcess> StartAfterSeed(GitClone& person) {
    person.Write("apps/app/replicas.yaml", "replicas: 1\n");
    BOOST_REQUIRE(person.CommitAndPush("seed"));
    auto daemon = std::make_unique<DaemonProcess>(binary, cfg, dir.path(), env);
    BOOST_REQUIRE_MESSAGE(daemon->WaitForNotify("READY=1"), daemon->Log());
    BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(local + "/replicas.yaml"); }), daemon->Log());
    return daemon;
  }
  std::string Head() {
    std::string h = Git({"--git-dir", server.repo_path("cfg"), "rev-parse", "main"}).out;
    return h.substr(0, h.find('\n'));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(webhook_e2e, WebhookFixture)

BOOST_AUTO_TEST_CASE(a_signed_push_delivery_brings_the_change_into_the_folder) {
  CommandResult url = Cli({"webhook-url", "team"});
  BOOST_REQUIRE_MESSAGE(url.exit_code == 0, url.err);
  const std::string prefix = "https://hooks.example.com/webhooks/team/";
  BOOST_REQUIRE_MESSAGE(url.out.rfind(prefix, 0) == 0, url.out);
  std::string token = url.out.substr(prefix.size(), url.out.size() - prefix.size() - 1);
  BOOST_TEST(token.size() == 43u);  // 256 bits, base64url
  std::string path = "/webhooks/team/" + token;

  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  person.Write("apps/app/replicas.yaml", "replicas: 1\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));

  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  HttpReply health = HttpExchange(port, BuildRequest("GET", "/healthz", {}, ""));
  BOOST_TEST(health.status == 200);
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(local + "/replicas.yaml"); }), daemon.Log());

  // A push, then its delivery: the folder follows without polling.
  std::string before = Head();
  person.Write("apps/app/replicas.yaml", "replicas: 5\n");
  BOOST_REQUIRE(person.CommitAndPush("scale up"));
  std::string body = PushPayload(before, Head());
  HttpReply r = Deliver(path, body, "delivery-1");
  BOOST_TEST(r.status == 202, r.body);
  auto answer = boost::json::parse(r.body).as_object();
  BOOST_TEST(answer.at("queued").as_array().at(0).as_string() == "app");
  BOOST_TEST(WaitFor([&] { return ReadFile(local + "/replicas.yaml") == "replicas: 5\n"; }, 10s), daemon.Log());

  // A redelivery is answered but not processed; a forged one is refused.
  BOOST_TEST(Deliver(path, body, "delivery-1").status == 200);
  BOOST_TEST(Deliver(path, body, "delivery-2", "wrong-secret").status == 401);
  BOOST_TEST(Deliver("/webhooks/team/" + std::string(43, 'x'), body, "delivery-3").status == 401);

  // Operator endpoints on their own listener: Prometheus metrics, the status JSON, a sync request.
  HttpReply metrics = HttpExchange(operator_port, BuildRequest("GET", "/metrics", {}, ""));
  BOOST_TEST(metrics.status == 200);
  BOOST_TEST(metrics.headers["content-type"].find("text/plain; version=0.0.4") == 0u);
  for (const char* line : {"# TYPE gitsyncd_sync_passes_total counter",
                           "gitsyncd_sync_passes_total{binding=\"app\",result=\"error\"} 0",
                           "gitsyncd_sync_pass_duration_seconds_bucket{binding=\"app\",le=\"+Inf\"}",
                           "gitsyncd_pending_local_changes{binding=\"app\"} 0",
                           "gitsyncd_open_conflicts{binding=\"app\"} 0", "gitsyncd_queue_depth ",
                           "gitsyncd_webhook_deliveries_total{provider=\"github\",verdict=\"queued\"} 1",
                           "gitsyncd_webhook_deliveries_total{provider=\"github\",verdict=\"duplicate\"} 1",
                           "gitsyncd_webhook_deliveries_total{provider=\"github\",verdict=\"refused\"} 1",
                           // a wrong URL token is refused from the headers, counted apart
                           "gitsyncd_webhook_token_refusals_total{connector=\"team\"} 1"}) {
    BOOST_TEST(metrics.body.find(line) != std::string::npos, line << "\n" << metrics.body);
  }
  // The pass that wrote the file records its commit right after; the status follows.
  boost::json::array bindings;
  BOOST_TEST(WaitFor([&] {
    HttpReply status = HttpExchange(operator_port, BuildRequest("GET", "/api/v1/status", {}, ""));
    if (status.status != 200) return false;
    bindings = boost::json::parse(status.body).at("bindings").as_array();
    return bindings.size() == 1u && std::string(bindings[0].at("last_synced_commit").as_string()) == Head();
  }, 10s));
  BOOST_REQUIRE(bindings.size() == 1u);
  BOOST_TEST(bindings[0].at("name").as_string() == "app");
  BOOST_TEST(bindings[0].at("pending_local_changes").to_number<int>() == 0);
  const std::vector<std::pair<std::string, std::string>> json{{"Content-Type", "application/json"}};
  HttpReply sync = HttpExchange(operator_port, BuildRequest("POST", "/api/v1/syncs/app/sync", json, ""));
  BOOST_TEST(sync.status == 202, sync.body);
  BOOST_TEST(HttpExchange(operator_port, BuildRequest("POST", "/api/v1/syncs/nope/sync", json, "")).status == 404);
  BOOST_TEST(HttpExchange(operator_port, BuildRequest("GET", "/api/v1/syncs/app/sync", {}, "")).status == 405);
  BOOST_TEST(HttpExchange(operator_port, BuildRequest("GET", "/nothing-here", {}, "")).status == 404);
  BOOST_TEST(HttpExchange(port, BuildRequest("GET", "/metrics", {}, "")).status == 404);

  // Rotating the token while the daemon runs retires the old URL at once.
  CommandResult rotated = Cli({"webhook-url", "team", "--rotate"});
  BOOST_REQUIRE_MESSAGE(rotated.exit_code == 0, rotated.err);
  BOOST_TEST(rotated.out != url.out);
  BOOST_TEST(Deliver(path, body, "delivery-4").status == 401);

  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);

  // The record survives the daemon and says what happened to each delivery; requests with a
  // wrong URL token are not deliveries and are not in it.
  CommandResult events = Cli({"events", "team", "--json"});
  BOOST_REQUIRE_MESSAGE(events.exit_code == 0, events.err);
  auto list = boost::json::parse(events.out).as_array();
  std::vector<std::string> verdicts;
  for (const auto& e : list) verdicts.emplace_back(e.at("verdict").as_string());
  BOOST_TEST((verdicts == std::vector<std::string>{"queued", "duplicate", "refused"}));
  CommandResult text = Cli({"events", "team"});
  BOOST_TEST(text.out.find("github push delivery-1  202 queued: app: pull queued for") != std::string::npos, text.out);

  std::string log = daemon.Log();
  BOOST_TEST(log.find(kHookSecret) == std::string::npos);
  BOOST_TEST(log.find(token) == std::string::npos);
}

// The delivery record is written off the request path, within ~10 ms: a daemon killed (kill
// -9, no chance to flush) after that still knows the delivery when the provider redelivers it.
BOOST_AUTO_TEST_CASE(a_delivery_recorded_before_a_kill_is_a_redelivery_after_the_restart) {
  CommandResult url = Cli({"webhook-url", "team"});
  BOOST_REQUIRE_MESSAGE(url.exit_code == 0, url.err);
  std::string path = url.out.substr(url.out.find("/webhooks/"));
  path.pop_back();
  std::string body = PushPayload(std::string(40, '1'), std::string(40, '2'));
  std::string record = dir / "state/webhooks/deliveries/team.json";
  {
    DaemonProcess daemon(binary, cfg, dir.path(), env);
    BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
    auto sent = std::chrono::steady_clock::now();
    HttpReply r = Deliver(path, body, "before-the-kill");
    BOOST_REQUIRE_MESSAGE(r.status == 202, r.body);
    BOOST_REQUIRE(WaitFor([&] { return FileExists(record) && ReadFile(record).find("before-the-kill") != std::string::npos; },
                          5s, 1ms));
    // 10 ms batches: generous bound for a loaded machine.
    BOOST_TEST((std::chrono::steady_clock::now() - sent < 1s));
    daemon.Kill();
    daemon.Wait();
  }
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  HttpReply again = Deliver(path, body, "before-the-kill");
  BOOST_TEST(again.status == 200, again.body);
  BOOST_TEST(boost::json::parse(again.body).at("duplicate").as_bool());
  BOOST_TEST(Deliver(path, body, "after-the-restart").status == 202);
}

// The listener's cap (256) held by 1,000 sockets that never finish a request: half send a
// partial request line and headers, half nothing. A signed delivery still gets in, because
// the oldest connection that has not proved a URL token makes room for it.
BOOST_AUTO_TEST_CASE(a_signed_delivery_gets_in_while_1000_idle_sockets_are_held_open) {
  rlimit files{};
  BOOST_REQUIRE(getrlimit(RLIMIT_NOFILE, &files) == 0);
  files.rlim_cur = std::min<rlim_t>(files.rlim_max, 4096);
  BOOST_REQUIRE(setrlimit(RLIMIT_NOFILE, &files) == 0);
  BOOST_REQUIRE_MESSAGE(files.rlim_cur >= 1100, "RLIMIT_NOFILE hard limit " << files.rlim_max << " is below 1100");
  CommandResult url = Cli({"webhook-url", "team"});
  BOOST_REQUIRE_MESSAGE(url.exit_code == 0, url.err);
  std::string path = url.out.substr(url.out.find("/webhooks/"));
  path.pop_back();
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  auto daemon_owner = StartAfterSeed(person);
  DaemonProcess& daemon = *daemon_owner;

  std::string before = Head();
  person.Write("apps/app/replicas.yaml", "replicas: 7\n");
  BOOST_REQUIRE(person.CommitAndPush("scale while crowded"));

  std::vector<std::unique_ptr<HttpConnection>> held;
  for (int i = 0; i < 1000; ++i) {
    held.push_back(std::make_unique<HttpConnection>(port));
    if (i % 2 == 0) held.back()->Send("POST " + path.substr(0, 20) + " HTTP/1.1\r\nHost: slow\r\nX-GitHub-Event: pu");
  }
  HttpReply r = Deliver(path, PushPayload(before, Head()), "crowded-1");
  BOOST_TEST(r.status == 202, r.body);
  // The sockets opened last are still held by the daemon: room was made, not everyone dropped.
  size_t open_ones = 0;
  for (size_t i = held.size() - 100; i < held.size(); ++i) open_ones += held[i]->WaitClosed(1) ? 0 : 1;
  BOOST_TEST(open_ones > 50u);
  BOOST_TEST(WaitFor([&] { return ReadFile(local + "/replicas.yaml") == "replicas: 7\n"; }, 10s), daemon.Log());
  held.clear();
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}

// Webhooks on and no poll_interval of the binding's own: a delivery that never comes is
// caught up by the safety-net poll (webhook.poll_interval, short here).
BOOST_AUTO_TEST_CASE(a_delivery_that_never_arrives_is_caught_up_by_the_safety_net_poll) {
  std::string connector = ReadFile(cfg + "/connectors.d/team.yaml");
  size_t at = connector.find("  secret:");
  BOOST_REQUIRE(at != std::string::npos);
  WriteFile(cfg + "/connectors.d/team.yaml", connector.insert(at, "  poll_interval: 10s\n"));
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  auto daemon_owner = StartAfterSeed(person);
  DaemonProcess& daemon = *daemon_owner;
  // A push whose delivery is lost on the way: nothing is sent to the listener.
  person.Write("apps/app/replicas.yaml", "replicas: 9\n");
  BOOST_REQUIRE(person.CommitAndPush("delivery lost"));
  BOOST_TEST(WaitFor([&] { return ReadFile(local + "/replicas.yaml") == "replicas: 9\n"; }, 30s), daemon.Log());
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}

BOOST_AUTO_TEST_CASE(webhook_url_needs_an_enabled_webhook_and_shows_the_same_url_again) {
  CommandResult missing = Cli({"webhook-url", "nope"});
  BOOST_TEST(missing.exit_code == 1);
  BOOST_TEST(missing.err == "gitsyncd: error: no connector named 'nope' in " + cfg + "\n");
  // Without a secret store the token exists only as a hash after the first display.
  CommandResult first = Cli({"webhook-url", "team"});
  BOOST_REQUIRE(first.exit_code == 0);
  BOOST_TEST(first.err.find("this URL is shown only now") != std::string::npos, first.err);
  CommandResult again = Cli({"webhook-url", "team"});
  BOOST_TEST(again.exit_code == 1);
  BOOST_TEST(again.err.find("stored hashed only and cannot be shown again") != std::string::npos, again.err);
  // With a secret store, the URL can be shown again.
  BOOST_REQUIRE(Cli({"secret", "init"}).exit_code == 0);
  CommandResult made = Cli({"webhook-url", "team", "--rotate"});
  BOOST_REQUIRE(made.exit_code == 0);
  CommandResult shown = Cli({"webhook-url", "team"});
  BOOST_TEST(shown.exit_code == 0, shown.err);
  BOOST_TEST(shown.out == made.out);
  // The token file holds a hash, never the token.
  std::string file = ReadFile(dir / "state/webhooks/tokens/team.json");
  std::string token = made.out.substr(made.out.rfind('/') + 1);
  token.pop_back();
  BOOST_TEST(file.find(token) == std::string::npos);
  BOOST_TEST(file.find("\"sha256\"") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
