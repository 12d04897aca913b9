// A fleet end to end: two `gitsyncd run` instances with different selectors share one
// connectors.d and a real etcd on loopback; a real HTTPS Git server holds the repository.
// Each instance has its own gitsyncd.yaml (state folder, name, selectors), as each host would.
//  - delegate selectors decide which instance runs which connector;
//  - `gitsyncd cluster status` lists both, their bindings and commits against the branch head;
//  - a signed delivery to alpha updates the folder only beta serves (polling off);
//  - a killed instance leaves the fleet within its lease.
#include <signal.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
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
using namespace std::chrono_literals;

namespace {

const std::string kHookSecret = "fleet-hook-secret-4410";

struct FleetFixture {
  TempDir dir;
  EtcdCluster etcd;
  GitHttpsServer server{"deploy", "Fleet-pass-2026"};
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::string shared = dir / "connectors.d";  // kept in Git in real life; one folder here
  int port = FreePort();
  std::map<std::string, std::string> env{{"GITSYNCD_TEST_PASSWORD", "Fleet-pass-2026"},
                                         {"GITSYNCD_HOOK_SECRET", kHookSecret},
                                         {"GITSYNCD_CONFIG", ""}};

  FleetFixture() {
    server.CreateBareRepo("cfg");
    std::string auth = "provider: github\nurl: " + server.url("cfg") +
                       "\nauth:\n  username: deploy\n  password: {env: GITSYNCD_TEST_PASSWORD}\n"
                       "webhook:\n  enabled: true\n  secret: {env: GITSYNCD_HOOK_SECRET}\n  poll_interval: 0\n";
    WriteFile(shared + "/a.yaml", "name: a-app\ndelegate_selectors: [alpha]\n" + auth +
                                      "syncs:\n  - name: app-a\n    path: app\n    local: " + (dir / "srv/a") + "\n");
    WriteFile(shared + "/b.yaml", "name: b-app\ndelegate_selectors: [beta]\n" + auth +
                                      "syncs:\n  - name: app-b\n    path: app\n    local: " + (dir / "srv/b") + "\n");
    WriteFile(shared + "/eu.yaml", "name: eu\ndelegate_selectors: [linux, eu]\n" + auth +
                                       "syncs:\n  - name: eu-only\n    path: eu\n    local: " + (dir / "srv/eu") + "\n");
    Instance("alpha", "[alpha, linux]", "listen:\n  address: 127.0.0.1\n  port: " + std::to_string(port) +
                                            "\n  public_url: https://hooks.example.com/\n");
    // beta serves webhook-enabled connectors too, so it has a listener of its own.
    Instance("beta", "[beta, linux, eu]", "listen:\n  address: 127.0.0.1\n  port: 0\n");
  }
  // <dir>/<name>/gitsyncd.yaml with its own state folder; connectors.d -> the shared folder.
  void Instance(const std::string& name, const std::string& selectors, const std::string& extra) {
    std::string cfg = dir / name;
    WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + (dir / (name + "-state")) + "\nca_file: " + server.ca_file() +
                                          "\nlog_level: debug\ninstance: " + name + "\n" + extra + "cluster:\n  endpoints: " +
                                          etcd.endpoints_yaml() + "\n  selectors: " + selectors +
                                          "\n  lease_ttl: 2s\n");
    std::filesystem::create_symlink(shared, cfg + "/connectors.d");
  }
  CommandResult Cli(const std::string& instance, std::vector<std::string> args) {
    args.insert(args.begin(), {binary, "--config", dir / instance});
    return RunCommand(args, env);
  }
  std::unique_ptr<DaemonProcess> Start(const std::string& instance) {
    std::filesystem::create_directories(dir / (instance + "-run"));
    auto d = std::make_unique<DaemonProcess>(binary, dir / instance, dir / (instance + "-run"), env);
    BOOST_REQUIRE_MESSAGE(d->WaitForNotify("READY=1"), d->Log());
    return d;
  }
  std::string Head() {
    std::string h = Git({"--git-dir", server.repo_path("cfg"), "rev-parse", "main"}).out;
    return h.substr(0, h.find('\n'));
  }
  boost::json::object Status(const std::string& instance) {
    CommandResult r = Cli(instance, {"cluster", "status", "--json"});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return boost::json::parse(r.out).as_object();
  }
  // instance name -> its binding names, from `cluster status --json`.
  std::map<std::string, std::vector<std::string>> Serving(const std::string& via) {
    std::map<std::string, std::vector<std::string>> out;
    auto status = Status(via);
    for (const auto& i : status.at("instances").as_array()) {
      auto& names = out[std::string(i.at("name").as_string())];
      for (const auto& b : i.at("bindings").as_array()) names.emplace_back(b.at("name").as_string());
    }
    return out;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(fleet_e2e, FleetFixture)

BOOST_AUTO_TEST_CASE(each_instance_runs_the_connectors_whose_selectors_it_carries_and_status_shows_the_fleet) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  person.Write("app/replicas.yaml", "replicas: 1\n");
  person.Write("eu/region.yaml", "region: eu\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  CommandResult check = Cli("alpha", {"check-config"});
  BOOST_TEST(check.exit_code == 0, check.err);
  BOOST_TEST(check.out.find("cluster: instance alpha, selectors [alpha, linux]") != std::string::npos, check.out);
  BOOST_TEST(check.out.find("delegates:     instances with [beta]; not run by this instance") != std::string::npos,
             check.out);
  BOOST_TEST(check.out.find("delegates:     instances with [alpha]\n") != std::string::npos, check.out);
  auto alpha = Start("alpha");
  auto beta = Start("beta");
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(dir / "srv/b/replicas.yaml"); }), beta->Log());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(dir / "srv/a/replicas.yaml"); }), alpha->Log());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(dir / "srv/eu/region.yaml"); }), beta->Log());
  using Names = std::vector<std::string>;
  BOOST_REQUIRE(WaitFor([&] { return Serving("alpha").size() == 2; }, 10s));
  auto serving = Serving("beta");
  BOOST_TEST(serving["alpha"] == Names{"app-a"}, boost::test_tools::per_element());
  BOOST_TEST((serving["beta"] == Names{"app-b", "eu-only"} || serving["beta"] == Names{"eu-only", "app-b"}));

  // Every binding reports its last synced commit, and it is the branch head.
  std::string head = Head();
  BOOST_TEST(WaitFor([&] {
    auto status = Status("alpha");
    for (const auto& i : status.at("instances").as_array()) {
      for (const auto& b : i.at("bindings").as_array()) {
        if (b.at("commit").as_string() != head || b.at("state").as_string() != "at head") return false;
      }
    }
    return true;
  }, 10s));
  CommandResult text = Cli("beta", {"cluster", "status"});
  BOOST_TEST(text.exit_code == 0);
  BOOST_TEST(text.out.find("fleet /gitsyncd/: 2 live instances") != std::string::npos, text.out);
  BOOST_TEST(text.out.find("beta  selectors: beta,linux,eu") != std::string::npos, text.out);
  BOOST_TEST(text.out.find(head.substr(0, 12)) != std::string::npos, text.out);

  // A new commit nobody has synced yet (polling is off): status says who is behind.
  person.Write("app/replicas.yaml", "replicas: 2\n");
  BOOST_REQUIRE(person.CommitAndPush("scale"));
  text = Cli("beta", {"cluster", "status"});
  BOOST_TEST(text.out.find("behind head " + Head().substr(0, 12)) != std::string::npos, text.out);
}

BOOST_AUTO_TEST_CASE(a_delivery_to_one_instance_updates_the_folder_another_instance_serves) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  person.Write("app/replicas.yaml", "replicas: 1\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  CommandResult url = Cli("alpha", {"webhook-url", "b-app"});
  BOOST_REQUIRE_MESSAGE(url.exit_code == 0, url.err);
  std::string path = url.out.substr(std::string("https://hooks.example.com").size());
  path.pop_back();
  auto alpha = Start("alpha");
  auto beta = Start("beta");
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(dir / "srv/b/replicas.yaml"); }), beta->Log());
  BOOST_REQUIRE(WaitFor([&] { return Serving("alpha").size() == 2; }, 10s));

  std::string before = Head();
  person.Write("app/replicas.yaml", "replicas: 7\n");
  BOOST_REQUIRE(person.CommitAndPush("scale up"));
  std::string body = GitHubPushPayload(before, Head());
  HttpReply r = HttpExchange(port, BuildRequest("POST", path,
                                                {{"Content-Type", "application/json"},
                                                 {"X-GitHub-Event", "push"},
                                                 {"X-GitHub-Delivery", "fleet-1"},
                                                 {"X-Hub-Signature-256", "sha256=" + HmacHex(kHookSecret, body)}},
                                                body));
  BOOST_TEST(r.status == 202, r.body);
  BOOST_TEST(WaitFor([&] { return ReadFile(dir / "srv/b/replicas.yaml") == "replicas: 7\n"; }, 10s),
             alpha->Log() + beta->Log());
  BOOST_TEST(beta->Log().find("received by alpha") != std::string::npos);
  // A forged delivery is refused at alpha and never reaches the fleet.
  BOOST_TEST(HttpExchange(port, BuildRequest("POST", path,
                                             {{"Content-Type", "application/json"},
                                              {"X-GitHub-Event", "push"},
                                              {"X-GitHub-Delivery", "fleet-2"},
                                              {"X-Hub-Signature-256", "sha256=" + HmacHex("wrong", body)}},
                                             body))
                 .status == 401);
}

BOOST_AUTO_TEST_CASE(an_instance_killed_with_sigkill_leaves_the_fleet_within_its_lease_and_etcd_down_is_logged) {
  auto alpha = Start("alpha");
  auto beta = Start("beta");
  BOOST_REQUIRE(WaitFor([&] { return Serving("alpha").size() == 2; }, 10s));
  beta->Kill();
  auto killed = std::chrono::steady_clock::now();
  BOOST_TEST(WaitFor([&] { return Serving("alpha").size() == 1; }, 10s));
  BOOST_TEST((std::chrono::steady_clock::now() - killed < 5s));  // the 2 s lease, plus a poll
  // etcd stops: alpha logs it once, keeps running, and registers again when etcd is back.
  etcd.Stop(0);
  BOOST_TEST(WaitFor([&] { return alpha->Log().find("fleet: etcd") != std::string::npos; }, 10s), alpha->Log());
  BOOST_TEST(alpha->Log().find("keeps syncing its own bindings") != std::string::npos);
  etcd.Start(0);
  BOOST_TEST(WaitFor([&] { return alpha->Log().find("fleet: etcd answers again") != std::string::npos; }, 20s),
             alpha->Log());
  BOOST_TEST(WaitFor([&] { return Serving("alpha").size() == 1; }, 10s));
  alpha->Signal(SIGTERM);
  BOOST_TEST(alpha->Wait() == 0);
}

BOOST_AUTO_TEST_CASE(an_exclusive_binding_runs_on_one_instance_and_fails_over_after_kill_9_losing_no_edit) {
  // A folder on shared storage: both instances are picked by the connector and see the same
  // folder, but only the elected owner may run its sync.
  WriteFile(shared + "/shared.yaml", "name: shared\nprovider: github\nurl: " + server.url("cfg") +
                                         "\nauth:\n  username: deploy\n  password: {env: GITSYNCD_TEST_PASSWORD}\n"
                                         "syncs:\n  - name: on-nfs\n    path: nfs\n    exclusive: true\n"
                                         "    poll_interval: 10s\n    local: " + (dir / "nfs") + "\n");
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  person.Write("nfs/a.txt", "a\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  std::map<std::string, std::unique_ptr<DaemonProcess>> d;
  d["alpha"] = Start("alpha");
  d["beta"] = Start("beta");
  auto owners = [&] {
    std::vector<std::string> out;
    for (const auto& [instance, bindings] : Serving("alpha")) {
      if (std::find(bindings.begin(), bindings.end(), "on-nfs") != bindings.end()) out.push_back(instance);
    }
    return out;
  };
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return owners().size() == 1; }, 20s), d["alpha"]->Log() + d["beta"]->Log());
  BOOST_REQUIRE(WaitFor([&] { return FileExists(dir / "nfs/a.txt"); }, 20s));
  std::this_thread::sleep_for(3s);  // stays one: the other instance never runs it meanwhile
  std::vector<std::string> first = owners();
  BOOST_REQUIRE_EQUAL(first.size(), 1u);
  std::string owner = first[0], other = owner == "alpha" ? "beta" : "alpha";

  // The owner dies mid-flight, with a local edit it may not have pushed yet.
  WriteFile(dir / "nfs/local-edit.txt", "written just before the crash\n");
  d[owner]->Kill();
  auto killed = std::chrono::steady_clock::now();
  BOOST_TEST(WaitFor([&] { return owners() == std::vector<std::string>{other}; }, 20s), d[other]->Log());
  // Takeover within the lease (2 s) plus one election round: well under 10 s.
  BOOST_TEST((std::chrono::steady_clock::now() - killed < 10s));
  BOOST_TEST(d[other]->Log().find("now runs exclusive binding 'on-nfs'") != std::string::npos);
  // The new owner pushes the edit the dead one left behind, and keeps pulling.
  BOOST_TEST(WaitFor([&] {
    person.Pull();
    return FileExists(dir / "person/nfs/local-edit.txt");
  }, 20s), d[other]->Log());
  person.Write("nfs/b.txt", "b\n");
  BOOST_REQUIRE(person.CommitAndPush("after failover"));
  BOOST_TEST(WaitFor([&] { return FileExists(dir / "nfs/b.txt"); }, 30s), d[other]->Log());
}

BOOST_AUTO_TEST_SUITE_END()
