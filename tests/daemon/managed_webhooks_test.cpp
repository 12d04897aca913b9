// `gitsyncd webhook register/unregister`, `webhook-url --rotate` and `test-connection` against
// the provider API test server (tests/support/provider_api_server.py): what the provider holds
// afterwards, as a person looking at the repository's webhook settings would see it.
#include <signal.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/http_client.h"
#include "tests/support/wait_for.h"
#include "webhooks/webhook_verifier.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct Cli {
  TempDir dir;
  std::string bare = dir / "remote/site.git";
  std::unique_ptr<ProviderApiServer> api;
  std::string cfg = dir / "etc";
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::map<std::string, std::string> env{{"GH_TOKEN", "ghp-tok"}, {"HOOK_SECRET", "hook-s3cret"}, {"GITSYNCD_CONFIG", ""}};
  Cli() {
    InitBareRepo(bare);
    GitClone person(bare, dir / "person");
    person.Write("index.html", "hi\n");
    BOOST_REQUIRE(person.CommitAndPush("seed"));
    api = std::make_unique<ProviderApiServer>("ghp-tok", std::map<std::string, std::string>{{"acme/site", bare}});
    WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + api->ca_file() +
                                          "\nlisten:\n  public_url: https://hooks.example.com\n");
    WriteFile(cfg + "/connectors.d/site.yaml",
              "name: Site\nprovider: github\nurl: https://github.acme.example/acme/site.git\n"
              "api:\n  token: {env: GH_TOKEN}\n  url: " + api->api_url() +
                  "\nfetch: api\nwebhook:\n  enabled: true\n  secret: {env: HOOK_SECRET}\n"
                  "syncs:\n  - name: site\n    local: " + (dir / "srv") + "\n    direction: pull\n");
    BOOST_REQUIRE(Run({"secret", "init"}).exit_code == 0);
  }
  CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {binary, "--config", cfg});
    return RunCommand(args, env);
  }
  json::array Hooks() {
    json::value v = json::parse(api->AdminState());
    const json::value* list = v.at("hooks").as_object().if_contains("github acme/site");
    return list ? list->as_array() : json::array{};
  }
  static std::string Url(const json::value& hook) { return json::value_to<std::string>(hook.at("config").at("url")); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(managed_webhooks_cli, Cli)

BOOST_AUTO_TEST_CASE(register_creates_the_hook_once_and_unregister_removes_it) {
  CommandResult dry = Run({"webhook", "register", "Site", "--dry-run"});
  BOOST_TEST(dry.exit_code == 0, dry.err);
  BOOST_TEST(dry.out == "would acme/site: create the webhook\n");
  BOOST_TEST(Hooks().empty());

  CommandResult reg = Run({"webhook", "register", "Site"});
  BOOST_TEST(reg.exit_code == 0, reg.err);
  BOOST_REQUIRE(Hooks().size() == 1u);
  json::value hook = Hooks()[0];
  BOOST_TEST(Url(hook).rfind("https://hooks.example.com/webhooks/site/", 0) == 0u);
  BOOST_TEST(json::value_to<std::string>(hook.at("config").at("secret")) == "hook-s3cret");
  BOOST_TEST(json::value_to<std::string>(hook.at("config").at("content_type")) == "json");
  BOOST_TEST(hook.at("events") == json::array{"push"});
  // The URL `webhook-url` prints is the registered one.
  CommandResult url = Run({"webhook-url", "Site"});
  BOOST_TEST(url.out == Url(hook) + "\n");

  CommandResult again = Run({"webhook", "register", "Site"});
  BOOST_TEST(again.exit_code == 0, again.err);
  BOOST_TEST(again.out.find("is up to date") != std::string::npos, again.out);
  BOOST_TEST(Hooks().size() == 1u);

  CommandResult tc = Run({"test-connection", "Site"});
  BOOST_TEST(tc.exit_code == 0, tc.err);
  BOOST_TEST(tc.out.find("webhook: registered (id ") != std::string::npos, tc.out);
  BOOST_TEST(tc.out.find("; no delivery yet") != std::string::npos, tc.out);

  CommandResult gone = Run({"webhook", "unregister", "Site"});
  BOOST_TEST(gone.exit_code == 0, gone.err);
  BOOST_TEST(Hooks().empty());
  CommandResult missing = Run({"test-connection", "Site"});
  BOOST_TEST(missing.out.find("webhook: NOT registered") != std::string::npos, missing.out);
}

BOOST_AUTO_TEST_CASE(rotating_the_url_updates_the_registered_hook) {
  BOOST_REQUIRE(Run({"webhook", "register", "Site"}).exit_code == 0);
  std::string before = Url(Hooks().at(0));
  CommandResult rotated = Run({"webhook-url", "Site", "--rotate"});
  BOOST_TEST(rotated.exit_code == 0, rotated.err);
  BOOST_REQUIRE(Hooks().size() == 1u);
  BOOST_TEST(Url(Hooks()[0]) != before);
  BOOST_TEST(rotated.out == Url(Hooks()[0]) + "\n");
}

BOOST_AUTO_TEST_CASE(a_changed_secret_is_pushed_to_the_hook) {
  BOOST_REQUIRE(Run({"webhook", "register", "Site"}).exit_code == 0);
  env["HOOK_SECRET"] = "second-secret";
  CommandResult r = Run({"webhook", "register", "Site"});
  BOOST_TEST(r.exit_code == 0, r.err);
  BOOST_TEST(r.out.find("(a new secret)") != std::string::npos, r.out);
  BOOST_TEST(json::value_to<std::string>(Hooks().at(0).at("config").at("secret")) == "second-secret");
}

BOOST_AUTO_TEST_CASE(a_token_without_the_hook_permission_is_told_which_one) {
  api->Control(R"({"token": {"may_not": ["hooks"]}})");
  CommandResult r = Run({"webhook", "register", "Site"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("it needs the 'admin:repo_hook' scope (classic token) or the repository permission "
                        "'Webhooks: Read and write' (fine-grained token)") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("ghp-tok") == std::string::npos);
}

// webhook.manage and report_status through `gitsyncd run`: the daemon registers the hook at
// start, a signed push delivered to the registered URL syncs the folder, and the synced commit
// gets the binding's status.
BOOST_AUTO_TEST_CASE(the_daemon_registers_managed_hooks_and_a_delivery_through_one_syncs_and_is_reported) {
  int port = FreePort();
  std::string local = dir / "srv";
  WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + api->ca_file() +
                                        "\ninstance: e2e\nlisten:\n  port: " + std::to_string(port) +
                                        "\n  public_url: https://hooks.example.com\n");
  WriteFile(cfg + "/connectors.d/site.yaml",
            "name: Site\nprovider: github\nurl: https://github.acme.example/acme/site.git\n"
            "api:\n  token: {env: GH_TOKEN}\n  url: " + api->api_url() +
                "\nfetch: api\nreport_status: true\nwebhook:\n  enabled: true\n  manage: true\n  poll_interval: 0\n"
                "  secret: {env: HOOK_SECRET}\nsyncs:\n  - name: site\n    local: " + local +
                "\n    direction: pull\n");
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return Hooks().size() == 1u; }, 20s), daemon.Log());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(local + "/index.html"); }), daemon.Log());

  GitClone person(bare, dir / "person2");
  person.Write("index.html", "hello\n");
  BOOST_REQUIRE(person.CommitAndPush("edit"));
  std::string url = Url(Hooks()[0]);
  std::string path = url.substr(std::string("https://hooks.example.com").size());
  std::string body = "{\"ref\": \"refs/heads/main\", \"before\": \"\", \"after\": \"" + person.Head() +
                     "\", \"repository\": {\"full_name\": \"acme/site\", \"name\": \"site\"}}";
  HttpReply hook = HttpExchange(port, BuildRequest("POST", path,
                                                   {{"Content-Type", "application/json"},
                                                    {"X-GitHub-Event", "push"},
                                                    {"X-GitHub-Delivery", "managed-1"},
                                                    {"X-Hub-Signature-256",
                                                     "sha256=" + gitsyncd::HmacHex("hook-s3cret", body)}},
                                                   body));
  BOOST_TEST(hook.status == 202, hook.body);
  BOOST_TEST(WaitFor([&] { return ReadFile(local + "/index.html") == "hello\n"; }, 10s), daemon.Log());
  // The provider shows the binding's status on the synced commit.
  auto statuses = [&] {
    json::value v = json::parse(api->AdminState());
    const json::value* list = v.at("statuses").as_object().if_contains("github acme/site " + person.Head());
    return list ? list->as_array() : json::array{};
  };
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return !statuses().empty(); }, 10s), daemon.Log());
  json::value status = statuses().back();
  BOOST_TEST(json::value_to<std::string>(status.at("state")) == "success");
  BOOST_TEST(json::value_to<std::string>(status.at("context")) == "gitsyncd/e2e/site");
  BOOST_TEST(json::value_to<std::string>(status.at("description")) == "synced");
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
  BOOST_TEST(daemon.Log().find("hook-s3cret") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// Commit statuses (`report_status: true`) through `gitsyncd run`: what a person sees on each commit
// in the provider after a pass synced it, refused it (invalid YAML, validate_remote) or put the
// losing side on a conflict branch, and where the status's link leads.
namespace {

// report_status through `gitsyncd run` (polling off: passes run at start and on sync-now).
struct StatusDaemon : Cli {
  std::string local = dir / "srv";
  std::unique_ptr<DaemonProcess> daemon;
  int operator_port = FreePort();

  // `operator_extra`: more keys of `operator:`; `sync_extra`: more keys of the sync.
  void Configure(const std::string& operator_extra, const std::string& sync_extra = "") {
    WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + api->ca_file() +
                                          "\ninstance: e2e\noperator:\n  listen: 127.0.0.1:" +
                                          std::to_string(operator_port) + "\n" + operator_extra);
    WriteFile(cfg + "/connectors.d/site.yaml",
              "name: Site\nprovider: github\nurl: https://github.acme.example/acme/site.git\n"
              "api:\n  token: {env: GH_TOKEN}\n  url: " + api->api_url() +
                  "\nfetch: api\nreport_status: true\nsyncs:\n  - name: site\n    local: " + local + "\n" + sync_extra);
  }
  void Start() {
    daemon = std::make_unique<DaemonProcess>(binary, cfg, dir.path(), env);
    BOOST_REQUIRE_MESSAGE(daemon->WaitForNotify("READY=1"), daemon->Log());
  }
  void Stop() {
    daemon->Signal(SIGTERM);
    BOOST_TEST(daemon->Wait() == 0);
    daemon.reset();
  }
  void SyncNow() { RunCommand({binary, "--config", cfg, "sync-now", "site"}, env); }
  // The statuses posted on `commit`, oldest first.
  json::array Statuses(const std::string& commit) const {
    json::value v = json::parse(api->AdminState());
    const json::value* list = v.at("statuses").as_object().if_contains("github acme/site " + commit);
    return list ? list->as_array() : json::array{};
  }
  json::object StatusOn(const std::string& commit) {
    bool posted = WaitFor([&] { return !Statuses(commit).empty(); }, 20s);
    BOOST_REQUIRE_MESSAGE(posted, daemon->Log());
    return Statuses(commit).back().as_object();
  }
  // Starts the daemon, waits for the first pass's status, then has someone push `file` and
  // returns that commit's status after `sync-now`; `*commit` is the pushed commit.
  json::object StatusOfPush(const std::string& file, const std::string& content, std::string* commit) {
    Start();
    StatusOn(Head());
    *commit = Push(file, content, "push-" + std::to_string(++pushes));
    SyncNow();
    json::object s = StatusOn(*commit);
    BOOST_TEST(Field(s, "state") == "failure");
    return s;
  }
  int pushes = 0;
  static std::string Field(const json::object& o, const char* key) {
    const json::value* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string("<absent>");
  }
  // A push by someone else; returns its commit.
  std::string Push(const std::string& file, const std::string& content, const std::string& name) {
    GitClone person(bare, dir / name);
    person.Write(file, content);
    BOOST_REQUIRE(person.CommitAndPush(name));
    return person.Head();
  }
  std::string Head() const {
    return RunCommand({"git", "--git-dir=" + bare, "rev-parse", "main"}, {}).out.substr(0, 40);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(commit_statuses, StatusDaemon)

BOOST_AUTO_TEST_CASE(a_synced_commit_gets_synced_linking_to_its_binding_on_the_status_page) {
  std::string page = "http://127.0.0.1:" + std::to_string(operator_port);
  Configure("  public_url: " + page + "/\n");
  Start();
  json::object s = StatusOn(Head());
  BOOST_TEST(Field(s, "state") == "success");
  BOOST_TEST(Field(s, "context") == "gitsyncd/e2e/site");
  BOOST_TEST(Field(s, "description") == "synced");
  BOOST_TEST(Field(s, "target_url") == page + "/#detail-site");
  // The link opens the status page on that binding's section, which the page marks.
  TempDir profile;
  CommandResult dom = RunCommand({"chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                                  "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + profile.path(),
                                  "--virtual-time-budget=5000", "--dump-dom", Field(s, "target_url")},
                                 {}, "", "", 90);
  BOOST_REQUIRE_MESSAGE(dom.exit_code == 0, dom.err);
  BOOST_TEST(dom.out.find("<section id=\"detail-site\" class=\"target\">") != std::string::npos, dom.out);
  Stop();
}

BOOST_AUTO_TEST_CASE(a_remote_commit_with_invalid_yaml_gets_yaml_invalid_naming_file_and_line) {
  Configure("");
  std::string bad;
  json::object s = StatusOfPush("apps/app.yaml", "name: app\nreplicas: [1, 2\nimage: x\n", &bad);
  BOOST_TEST(Field(s, "description") == "YAML invalid: apps/app.yaml:3");
  BOOST_TEST(Field(s, "context") == "gitsyncd/e2e/site");
  // Without operator.public_url there is no page to link to.
  BOOST_TEST(Field(s, "target_url") == "<absent>");
  BOOST_TEST(!FileExists(local + "/apps/app.yaml"));
  // The fix is synced and says so; the refused commit's status is posted once, not per retry.
  std::string fixed = Push("apps/app.yaml", "name: app\nreplicas: [1, 2]\n", "fixed-yaml");
  SyncNow();
  BOOST_TEST(Field(StatusOn(fixed), "description") == "synced");
  BOOST_TEST(Statuses(bad).size() == 1u);
  Stop();
}

BOOST_AUTO_TEST_CASE(a_remote_commit_validate_remote_refuses_gets_hook_refused) {
  Configure("", "    hooks:\n      validate_remote:\n        command: [sh, -c, 'test ! -e \"$GITSYNCD_TREE/forbidden\"']\n");
  std::string refused;
  json::object s = StatusOfPush("forbidden", "x\n", &refused);
  BOOST_TEST(Field(s, "description") == "hook refused");
  BOOST_TEST(!FileExists(local + "/forbidden"));
  Stop();
}

BOOST_AUTO_TEST_CASE(a_conflicting_remote_commit_gets_the_conflict_branch) {
  Configure("");
  Start();
  StatusOn(Head());
  BOOST_REQUIRE(WaitFor([&] { return FileExists(local + "/index.html"); }));
  Stop();
  // Both sides change the same line while the daemon is down.
  std::string theirs = Push("index.html", "remote\n", "theirs");
  WriteFile(local + "/index.html", "local\n");
  Start();
  json::object s = StatusOn(theirs);
  BOOST_TEST(Field(s, "state") == "failure");
  std::string description = Field(s, "description");
  BOOST_TEST(description.rfind("conflict branch gitsyncd/conflicts/site/", 0) == 0u, description);
  std::string branch = description.substr(std::string("conflict branch ").size());
  CommandResult listed = RunCommand({"git", "--git-dir=" + bare, "branch", "--list", branch}, {});
  BOOST_TEST(listed.out.find(branch) != std::string::npos, listed.out);
  Stop();
}

BOOST_AUTO_TEST_SUITE_END()
