// `gitsyncd webhook register/unregister`, `webhook-url --rotate` and `test-connection` against
// the provider API test server (tests/support/provider_api_server.py): what the provider holds
// afterwards, as a person looking at the repository's webhook settings would see it.
#include <signal.h>

#include <boost/json.hpp>
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <functional>

#include "config/base64.h"

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

BOOST_AUTO_TEST_SUITE_END()

// webhook.manage and report_status through `gitsyncd run`, for every provider: the hook the
// provider holds after the daemon started, a real delivery of that provider through it, and the
// status the provider shows on the synced (or refused) commit, each in the provider's own words
// (provider_admin.py keeps them as the provider's API takes them).
namespace {

std::string Text(const json::value* v) { return v && v->is_string() ? std::string(v->as_string()) : "<absent>"; }
// The member at `path` (object keys), or null.
const json::value* At(const json::object& o, std::initializer_list<const char*> path) {
  const json::value* v = nullptr;
  const json::object* in = &o;
  for (const char* key : path) {
    v = in ? in->if_contains(key) : nullptr;
    in = v && v->is_object() ? &v->as_object() : nullptr;
  }
  return v;
}

json::value Fixture(const std::string& name) {
  return json::parse(ReadFile(TestDataDir() + "/fixtures/webhooks/" + name));
}

// A delivery as the provider sends it: headers and body.
struct Delivery {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// The test repository is acme/site; each provider's connector names it its way.
struct ProviderCase {
  std::string provider;   // the connector's `provider:`
  std::string clone_url;  // the connector's `url:`
  std::function<std::string(const ProviderApiServer&)> api_url;
  std::string hooks_key;   // provider_admin.py's key of the repository's hooks
  std::string status_key;  // ... of a commit's statuses, without " <sha>"
  std::string events;      // what gitsyncd's hook subscribes to: push events only
  std::string success, failure;  // the provider's state names
  // The stored hook: where it delivers, the secret it holds (HMAC key, GitLab's token, Azure's
  // basic-auth password), what it subscribes to, and its content type where the provider
  // offers a choice (null where it always sends JSON).
  std::function<std::string(const json::object&)> hook_url, hook_secret, hook_events, hook_content;
  // A posted status: its context and its link.
  std::function<std::string(const json::object&)> status_context, status_link;
  // The provider's delivery of a push to main from `before` to `after`, a real payload of
  // tests/fixtures/webhooks with this push's ids and repository, authenticated the provider's
  // way with what `hook` holds.
  std::function<Delivery(const std::string& before, const std::string& after, const json::object& hook)> delivery;
};

Delivery HmacSigned(const char* header, std::vector<std::pair<std::string, std::string>> headers,
                    const json::value& payload, const std::string& secret) {
  Delivery d{std::move(headers), json::serialize(payload)};
  d.headers.emplace_back("Content-Type", "application/json");
  d.headers.emplace_back(header, "sha256=" + gitsyncd::HmacHex(secret, d.body));
  return d;
}

std::string Path(const json::object& o, std::initializer_list<const char*> path) { return Text(At(o, path)); }

// GitHub's and Bitbucket's hooks: the events of an active hook ("inactive" otherwise).
std::string ActiveEvents(const json::object& h) {
  std::string events;
  for (const auto& e : h.at("events").as_array()) events += (events.empty() ? "" : ",") + Text(&e);
  return h.at("active").as_bool() ? events : "inactive";
}

const std::vector<ProviderCase>& Providers() {
  static const std::vector<ProviderCase> all = {
      {"github", "https://github.acme.example/acme/site.git", [](auto& a) { return a.api_url(); },
       "github acme/site", "github acme/site", "push", "success", "failure",
       [](auto& h) { return Path(h, {"config", "url"}); }, [](auto& h) { return Path(h, {"config", "secret"}); },
       ActiveEvents,
       [](auto& h) { return Path(h, {"config", "content_type"}); },
       [](auto& s) { return Path(s, {"context"}); }, [](auto& s) { return Path(s, {"target_url"}); },
       [](const std::string& before, const std::string& after, const json::object& hook) {
         json::value v = Fixture("github-push.json");
         json::object& o = v.as_object();
         o["ref"] = "refs/heads/main", o["before"] = before, o["after"] = after;
         o["repository"].as_object()["full_name"] = "acme/site", o["repository"].as_object()["name"] = "site";
         return HmacSigned("X-Hub-Signature-256", {{"X-GitHub-Event", "push"}, {"X-GitHub-Delivery", "d-" + after}},
                           v, Path(hook, {"config", "secret"}));
       }},
      {"gitlab", "https://gitlab.acme.example/acme/site.git", [](auto& a) { return a.gitlab_api_url(); },
       "gitlab acme/site", "gitlab acme/site", "push_events", "success", "failed",
       [](auto& h) { return Path(h, {"url"}); }, [](auto& h) { return Path(h, {"token"}); },
       [](auto& h) {
         std::string events;
         for (const auto& [k, v] : h) {
           if (k.ends_with("_events") && v.is_bool() && v.as_bool()) events += (events.empty() ? "" : ",") + std::string(k);
         }
         return events;
       },
       nullptr,
       [](auto& s) { return Path(s, {"name"}); }, [](auto& s) { return Path(s, {"target_url"}); },
       [](const std::string& before, const std::string& after, const json::object& hook) {
         json::value v = Fixture("gitlab-push_hook-docs.json");
         json::object& o = v.as_object();
         o["ref"] = "refs/heads/main", o["before"] = before, o["after"] = after;
         json::object& project = o["project"].as_object();
         project["path_with_namespace"] = "acme/site", project["name"] = "site", project["path"] = "site";
         return Delivery{{{"Content-Type", "application/json"},
                          {"X-Gitlab-Event", "Push Hook"},
                          {"X-Gitlab-Event-UUID", "d-" + after},
                          {"X-Gitlab-Token", Path(hook, {"token"})}},
                         json::serialize(v)};
       }},
      {"bitbucket-cloud", "https://bitbucket.org/acme/site.git", [](auto& a) { return a.bitbucket_cloud_url(); },
       "bitbucket_cloud acme/site", "bitbucket_cloud acme/site", "repo:push", "SUCCESSFUL", "FAILED",
       [](auto& h) { return Path(h, {"url"}); }, [](auto& h) { return Path(h, {"secret"}); },
       ActiveEvents,
       nullptr,
       [](auto& s) { return Path(s, {"key"}); }, [](auto& s) { return Path(s, {"url"}); },
       [](const std::string& before, const std::string& after, const json::object& hook) {
         json::value v = Fixture("bitbucket-cloud-repo_push.json");
         json::object& o = v.as_object();
         json::object& change = o["push"].as_object()["changes"].as_array()[0].as_object();
         change["new"].as_object()["name"] = "main", change["old"].as_object()["name"] = "main";
         change["new"].as_object()["target"].as_object()["hash"] = after;
         change["old"].as_object()["target"].as_object()["hash"] = before;
         change["forced"] = false;
         o["repository"].as_object()["full_name"] = "acme/site", o["repository"].as_object()["name"] = "site";
         return HmacSigned("X-Hub-Signature",
                           {{"X-Event-Key", "repo:push"}, {"X-Request-UUID", "d-" + after}, {"X-Hook-UUID", Path(hook, {"uuid"})}},
                           v, Path(hook, {"secret"}));
       }},
      {"bitbucket-server", "https://bitbucket.acme.example/scm/ACME/site.git",
       [](auto& a) { return a.bitbucket_server_url(); }, "bitbucket_server acme/site", "bitbucket_server acme/site",
       "repo:refs_changed", "SUCCESSFUL", "FAILED",
       [](auto& h) { return Path(h, {"url"}); }, [](auto& h) { return Path(h, {"secret"}); },
       ActiveEvents,
       nullptr,
       [](auto& s) { return Path(s, {"key"}); }, [](auto& s) { return Path(s, {"url"}); },
       [](const std::string& before, const std::string& after, const json::object& hook) {
         json::value v = Fixture("bitbucket-server-repo_refs_changed.json");
         json::object& o = v.as_object();
         json::object& change = o["changes"].as_array()[0].as_object();
         change["refId"] = "refs/heads/main", change["fromHash"] = before, change["toHash"] = after;
         change["ref"].as_object()["id"] = "refs/heads/main", change["ref"].as_object()["displayId"] = "main";
         o["repository"].as_object()["slug"] = "site", o["repository"].as_object()["name"] = "site";
         o["repository"].as_object()["project"].as_object()["key"] = "ACME";
         return HmacSigned("X-Hub-Signature", {{"X-Event-Key", "repo:refs_changed"}, {"X-Request-Id", "d-" + after}}, v,
                           Path(hook, {"secret"}));
       }},
      {"azure-repos", "https://dev.azure.com/acme/platform/_git/site",
       [](auto& a) { return a.azure_api_url("acme", "platform"); }, "azure acme", "azure acme/site",
       "tfs:git.push branch '' to webHooks:httpRequest (enabled)",
       "succeeded", "failed",
       [](auto& h) { return Path(h, {"consumerInputs", "url"}); },
       [](auto& h) { return Path(h, {"consumerInputs", "basicAuthPassword"}); },
       [](auto& h) {
         return Path(h, {"publisherId"}) + ":" + Path(h, {"eventType"}) + " branch '" +
                Path(h, {"publisherInputs", "branch"}) + "' to " + Path(h, {"consumerId"}) + ":" +
                Path(h, {"consumerActionId"}) + " (" + Path(h, {"status"}) + ")";
       },
       nullptr,
       [](auto& s) { return Path(s, {"context", "genre"}) + "/" + Path(s, {"context", "name"}); },
       [](auto& s) { return Path(s, {"targetUrl"}); },
       [](const std::string& before, const std::string& after, const json::object& hook) {
         json::value v = Fixture("azure-devops-git.push.json");
         json::object& o = v.as_object();
         o["id"] = "d-" + after;
         json::object& resource = o["resource"].as_object();
         json::object& update = resource["refUpdates"].as_array()[0].as_object();
         update["name"] = "refs/heads/main", update["oldObjectId"] = before, update["newObjectId"] = after;
         resource["repository"].as_object()["name"] = "site";
         resource["repository"].as_object()["project"].as_object()["name"] = "platform";
         // Azure sends the subscription's basic-auth user and password; no event header.
         std::string auth = Path(hook, {"consumerInputs", "basicAuthUsername"}) + ":" +
                            Path(hook, {"consumerInputs", "basicAuthPassword"});
         return Delivery{{{"Content-Type", "application/json; charset=utf-8"},
                          {"Authorization", "Basic " + gitsyncd::Base64Encode(auth)}},
                         json::serialize(v)};
       }},
  };
  return all;
}

const ProviderCase& Case(const std::string& name) {
  for (const auto& p : Providers()) {
    if (p.provider == name) return p;
  }
  throw std::invalid_argument("no provider case " + name);
}

std::vector<std::string> ProviderNames() {
  std::vector<std::string> names;
  for (const auto& p : Providers()) names.push_back(p.provider);
  return names;
}

// A status as the provider shows it.
struct Shown {
  std::string state, context, description, link;
};

// `gitsyncd run` with the test repository's connector for one provider (report_status on).
struct ProviderDaemon : Cli {
  const ProviderCase* p = &Case("github");
  std::string local = dir / "srv";
  std::unique_ptr<DaemonProcess> daemon;
  int port = FreePort(), operator_port = FreePort();
  std::string page = "http://127.0.0.1:" + std::to_string(operator_port);

  // `operator_extra`: more keys of `operator:`; `daemon_extra`: more top-level keys of
  // gitsyncd.yaml; `connector_extra`: of the connector; `sync_extra`: of the sync.
  void Configure(const std::string& operator_extra, const std::string& daemon_extra = "",
                 const std::string& connector_extra = "", const std::string& sync_extra = "") {
    WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / "state") + "\nca_file: " + api->ca_file() +
                                          "\ninstance: e2e\noperator:\n  listen: 127.0.0.1:" +
                                          std::to_string(operator_port) + "\n" + operator_extra + daemon_extra);
    WriteFile(cfg + "/connectors.d/site.yaml",
              "name: Site\nprovider: " + p->provider + "\nurl: " + p->clone_url +
                  "\napi:\n  token: {env: GH_TOKEN}\n  url: " + p->api_url(*api) +
                  "\nfetch: api\nreport_status: true\n" + connector_extra + "syncs:\n  - name: site\n    local: " +
                  local + "\n" + sync_extra);
  }
  // webhook.manage on (polling off), the listener at `port` behind https://hooks.example.com,
  // the status page at `page`.
  void ConfigureManaged() {
    Configure("  public_url: " + page + "/\n",
              "listen:\n  port: " + std::to_string(port) + "\n  public_url: https://hooks.example.com\n",
              "webhook:\n  enabled: true\n  manage: true\n  poll_interval: 0\n  secret: {env: HOOK_SECRET}\n");
  }
  void Start() {
    daemon = std::make_unique<DaemonProcess>(binary, cfg, dir.path(), env);
    BOOST_REQUIRE_MESSAGE(daemon->WaitForNotify("READY=1"), daemon->Log());
  }
  void Stop() {
    daemon->Signal(SIGTERM);
    BOOST_TEST(daemon->Wait() == 0);
    BOOST_TEST(daemon->Log().find("hook-s3cret") == std::string::npos);
    daemon.reset();
  }
  void SyncNow() { RunCommand({binary, "--config", cfg, "sync-now", "site"}, env); }
  json::array StoredHooks() const {
    json::value v = json::parse(api->AdminState());
    const json::value* list = v.at("hooks").as_object().if_contains(p->hooks_key);
    return list ? list->as_array() : json::array{};
  }
  // The statuses posted on `commit`, oldest first.
  json::array Statuses(const std::string& commit) const {
    json::value v = json::parse(api->AdminState());
    const json::value* list = v.at("statuses").as_object().if_contains(p->status_key + " " + commit);
    return list ? list->as_array() : json::array{};
  }
  Shown StatusOn(const std::string& commit) {
    bool posted = WaitFor([&] { return !Statuses(commit).empty(); }, 20s);
    BOOST_REQUIRE_MESSAGE(posted, daemon->Log());
    json::array list = Statuses(commit);
    const json::object& s = list.back().as_object();
    return {Path(s, {"state"}), p->status_context(s), Path(s, {"description"}), p->status_link(s)};
  }
  // Starts the daemon, waits for the first pass's status, then has someone push `file` and
  // returns that commit's status after `sync-now`; `*commit` is the pushed commit.
  Shown StatusOfPush(const std::string& file, const std::string& content, std::string* commit) {
    Start();
    StatusOn(Head());
    *commit = Push(file, content, "push-" + std::to_string(++pushes));
    SyncNow();
    Shown s = StatusOn(*commit);
    BOOST_TEST(s.state == p->failure);
    BOOST_TEST(s.context == "gitsyncd/e2e/site");
    return s;
  }
  int pushes = 0;
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

// The providers whose failure states differ most from GitHub's (Bitbucket's build states,
// Azure's) and GitHub itself.
std::vector<std::string> FailureProviders() { return {"github", "bitbucket-server", "azure-repos"}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(managed_webhooks_daemon)

// The daemon registers the hook at start (exactly one under the connector's URL prefix, push
// events only, the secret as the provider carries it), the provider's signed delivery of a push
// through the registered URL syncs the folder, and the synced commit shows the binding's status.
BOOST_DATA_TEST_CASE_F(ProviderDaemon, the_daemon_registers_the_hook_and_a_delivery_through_it_syncs_and_is_reported,
                       boost::unit_test::data::make(ProviderNames()), name) {
  p = &Case(name);
  ConfigureManaged();
  Start();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return !StoredHooks().empty(); }, 20s), daemon->Log());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(local + "/index.html"); }), daemon->Log());
  json::array hooks = StoredHooks();
  BOOST_REQUIRE_MESSAGE(hooks.size() == 1u, json::serialize(hooks));
  const json::object& hook = hooks[0].as_object();
  std::string url = p->hook_url(hook);
  BOOST_TEST(url.rfind("https://hooks.example.com/webhooks/site/", 0) == 0u, url);
  BOOST_TEST(p->hook_secret(hook) == "hook-s3cret");
  BOOST_TEST(p->hook_events(hook) == p->events);
  if (p->hook_content) BOOST_TEST(p->hook_content(hook) == "json");
  // The URL `webhook-url` prints is the registered one.
  BOOST_TEST(Run({"webhook-url", "Site"}).out == url + "\n");

  std::string before = Head();
  BOOST_TEST(StatusOn(before).state == p->success);
  std::string after = Push("index.html", "hello\n", "person2");
  Delivery d = p->delivery(before, after, hook);
  std::string path = url.substr(std::string("https://hooks.example.com").size());
  HttpReply reply = HttpExchange(port, BuildRequest("POST", path, d.headers, d.body));
  BOOST_TEST(reply.status == 202, reply.body);
  BOOST_TEST(reply.body.find("\"queued\":[\"site\"]") != std::string::npos, reply.body);
  BOOST_TEST(WaitFor([&] { return ReadFile(local + "/index.html") == "hello\n"; }, 10s), daemon->Log());
  // The provider shows the binding's status on the synced commit, linking to the status page.
  Shown s = StatusOn(after);
  BOOST_TEST(s.state == p->success);
  BOOST_TEST(s.context == "gitsyncd/e2e/site");
  BOOST_TEST(s.description == "synced");
  BOOST_TEST(s.link == page + "/#detail-site");
  // Still one hook: a restart leaves a matching one alone.
  Stop();
  Start();
  BOOST_TEST(WaitFor([&] { return daemon->Log().find("is up to date") != std::string::npos; }, 20s), daemon->Log());
  BOOST_TEST(StoredHooks().size() == 1u);
  Stop();
}

// `systemctl stop` while the daemon waits out the provider's rate limit to register its hook:
// the daemon exits at once.
BOOST_FIXTURE_TEST_CASE(a_stop_while_hook_registration_waits_out_a_rate_limit_takes_seconds_not_the_wait,
                        ProviderDaemon) {
  api->Control(R"({"rate_limit": 1, "retry_after": 50, "limit_path": "/hooks"})");
  ConfigureManaged();
  Start();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return daemon->Log().find("waiting 50.0 s") != std::string::npos; }, 20s),
                        daemon->Log());
  auto stop = std::chrono::steady_clock::now();
  daemon->Signal(SIGTERM);
  BOOST_TEST(daemon->Wait() == 0);
  BOOST_TEST((std::chrono::steady_clock::now() - stop < 10s));
  BOOST_TEST(StoredHooks().empty());
  daemon.reset();
}

BOOST_AUTO_TEST_SUITE_END()

// Commit statuses (`report_status: true`) through `gitsyncd run` (polling off: passes run at
// start and on sync-now): what a person sees on each commit in the provider after a pass synced
// it, refused it (invalid YAML, validate_remote) or put the losing side on a conflict branch, and
// where the status's link leads. The failures run for the providers whose status states differ
// most (Bitbucket's build states, Azure's) besides GitHub.
BOOST_FIXTURE_TEST_SUITE(commit_statuses, ProviderDaemon)

BOOST_AUTO_TEST_CASE(a_synced_commit_gets_synced_linking_to_its_binding_on_the_status_page) {
  Configure("  public_url: " + page + "/\n");
  Start();
  Shown s = StatusOn(Head());
  BOOST_TEST(s.state == "success");
  BOOST_TEST(s.context == "gitsyncd/e2e/site");
  BOOST_TEST(s.description == "synced");
  BOOST_TEST(s.link == page + "/#detail-site");
  // The link opens the status page on that binding's section, which the page marks.
  TempDir profile;
  CommandResult dom = RunCommand({"chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                                  "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + profile.path(),
                                  "--virtual-time-budget=5000", "--dump-dom", s.link},
                                 {}, "", "", 90);
  BOOST_REQUIRE_MESSAGE(dom.exit_code == 0, dom.err);
  BOOST_TEST(dom.out.find("<section id=\"detail-site\" class=\"target\">") != std::string::npos, dom.out);
  Stop();
}

// `systemctl stop` while a status waits out the provider's rate limit: the daemon exits at once;
// the status is not posted.
BOOST_AUTO_TEST_CASE(a_stop_while_a_status_waits_out_a_rate_limit_takes_seconds_not_the_wait) {
  Configure("");
  Start();
  StatusOn(Head());
  // The provider asks to wait 100 s before the next status (a post may wait up to 2 minutes).
  api->Control(R"({"rate_limit": 1, "retry_after": 100, "limit_path": "/statuses/"})");
  std::string next = Push("index.html", "again\n", "again");
  SyncNow();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return daemon->Log().find("waiting 100.0 s") != std::string::npos; }, 20s),
                        daemon->Log());
  BOOST_TEST(ReadFile(local + "/index.html") == "again\n");
  auto stop = std::chrono::steady_clock::now();
  daemon->Signal(SIGTERM);
  BOOST_TEST(daemon->Wait() == 0);
  BOOST_TEST((std::chrono::steady_clock::now() - stop < 10s));
  BOOST_TEST(Statuses(next).empty());
  daemon.reset();
}

BOOST_DATA_TEST_CASE_F(ProviderDaemon, a_remote_commit_with_invalid_yaml_gets_yaml_invalid_naming_file_and_line,
                       boost::unit_test::data::make(FailureProviders()), name) {
  p = &Case(name);
  Configure("");
  std::string bad;
  Shown s = StatusOfPush("apps/app.yaml", "name: app\nreplicas: [1, 2\nimage: x\n", &bad);
  BOOST_TEST(s.description == "YAML invalid: apps/app.yaml:3");
  // Without operator.public_url there is no page to link to: Bitbucket, which requires a
  // link, gets the commit's own page.
  if (name.rfind("bitbucket", 0) == 0) {
    BOOST_TEST(s.link.find(bad) != std::string::npos, s.link);
  } else {
    BOOST_TEST(s.link == "<absent>");
  }
  BOOST_TEST(!FileExists(local + "/apps/app.yaml"));
  // The fix is synced and says so; the refused commit's status is posted once, not per retry.
  std::string fixed = Push("apps/app.yaml", "name: app\nreplicas: [1, 2]\n", "fixed-yaml");
  SyncNow();
  Shown ok = StatusOn(fixed);
  BOOST_TEST(ok.state == p->success);
  BOOST_TEST(ok.description == "synced");
  BOOST_TEST(Statuses(bad).size() == 1u);
  Stop();
}

BOOST_DATA_TEST_CASE_F(ProviderDaemon, a_remote_commit_validate_remote_refuses_gets_hook_refused,
                       boost::unit_test::data::make(FailureProviders()), name) {
  p = &Case(name);
  Configure("", "", "", "    hooks:\n      validate_remote:\n        command: [sh, -c, 'test ! -e \"$GITSYNCD_TREE/forbidden\"']\n");
  std::string refused;
  Shown s = StatusOfPush("forbidden", "x\n", &refused);
  BOOST_TEST(s.description == "hook refused");
  BOOST_TEST(!FileExists(local + "/forbidden"));
  Stop();
}

BOOST_DATA_TEST_CASE_F(ProviderDaemon, a_conflicting_remote_commit_gets_the_conflict_branch,
                       boost::unit_test::data::make(FailureProviders()), name) {
  p = &Case(name);
  Configure("");
  Start();
  StatusOn(Head());
  BOOST_REQUIRE(WaitFor([&] { return FileExists(local + "/index.html"); }));
  Stop();
  // Both sides change the same line while the daemon is down.
  std::string theirs = Push("index.html", "remote\n", "theirs");
  WriteFile(local + "/index.html", "local\n");
  Start();
  Shown s = StatusOn(theirs);
  BOOST_TEST(s.state == p->failure);
  BOOST_TEST(s.context == "gitsyncd/e2e/site");
  BOOST_TEST(s.description.rfind("conflict branch gitsyncd/conflicts/site/", 0) == 0u, s.description);
  std::string branch = s.description.substr(std::string("conflict branch ").size());
  CommandResult listed = RunCommand({"git", "--git-dir=" + bare, "branch", "--list", branch}, {});
  BOOST_TEST(listed.out.find(branch) != std::string::npos, listed.out);
  Stop();
}

BOOST_AUTO_TEST_SUITE_END()
