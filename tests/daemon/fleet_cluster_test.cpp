// A fleet on a real 3-member etcd cluster (loopback, free ports) with three `gitsyncd run`
// instances and the real HTTPS Git server: alpha and beta carry `linux`, gamma carries
// `windows`. Each instance has its own connectors.d (on real hosts the files are the same;
// here only `local` differs, since all three share one machine). The failure modes of
// docs/fleet.md, one test each: etcd unreachable, one member restarted, an instance killed
// with kill -9, a minority partition (two of three members stopped).
#include <signal.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <random>
#include <sstream>
#include <filesystem>
#include <thread>

#include "cluster/fleet.h"
#include "sync/relay_pack.h"
#include "tests/support/daemon_process.h"
#include "tests/support/etcd_server.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/github_push.h"
#include "tests/support/headless_browser.h"
#include "tests/support/http_client.h"
#include "tests/support/wait_for.h"
#include "webhooks/webhook_verifier.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

const std::string kHookSecret = "fleet-cluster-secret-7731";
const std::string kRelayKey = "fleet-cluster-relay-key-0123456789abcdef";
const std::vector<std::string> kInstances{"alpha", "beta", "gamma"};

struct ClusterFixture {
  TempDir dir;
  EtcdCluster etcd{3};
  GitHttpsServer server{"deploy", "Cluster-pass-2026"};
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::map<std::string, int> ports{{"alpha", FreePort()}, {"beta", FreePort()}, {"gamma", FreePort()}};
  // The operator listeners (status page, /api/v1).
  std::map<std::string, int> ops{{"alpha", FreePort()}, {"beta", FreePort()}, {"gamma", FreePort()}};
  std::map<std::string, std::unique_ptr<DaemonProcess>> d;
  std::map<std::string, std::string> env{{"GITSYNCD_TEST_PASSWORD", "Cluster-pass-2026"},
                                         {"GITSYNCD_HOOK_SECRET", kHookSecret},
                                         {"GITSYNCD_RELAY_KEY", kRelayKey},
                                         {"GITSYNCD_CONFIG", ""}};
  std::unique_ptr<GitClone> person;
  std::string web_path;  // the `web` connector's webhook URL path, the same on every instance
  bool relay = false;    // Configure() sets cluster.relay_key

  ClusterFixture() {
    server.CreateBareRepo("cfg");
    person = std::make_unique<GitClone>(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
    person->Write("app/replicas.yaml", "replicas: 1\n");
    person->Write("nfs/a.txt", "a\n");
    BOOST_REQUIRE(person->CommitAndPush("seed"));
    server.CreateBareRepo("tools");  // gamma's own repository
    GitClone tools(server.url_with_credentials("tools"), dir / "tools", "main", server.git_env());
    tools.Write("win/setup.ini", "[setup]\n");
    BOOST_REQUIRE(tools.CommitAndPush("seed"));
  }

  // Writes every instance's config. `poll`: the webhook connectors' safety-net poll ("0" =
  // only webhooks and the fleet move them); `exclusive`: also the shared-storage binding
  // `on-nfs` (one folder, exclusive: true), which every instance may run.
  void Configure(const std::string& poll, bool exclusive) {
    for (const auto& name : kInstances) {
      std::string cfg = dir / name;
      std::string selectors = name == "gamma" ? "[gamma, windows]" : "[" + name + ", linux]";
      WriteFile(cfg + "/gitsyncd.yaml",
                "state_dir: " + (dir / (name + "-state")) + "\nca_file: " + server.ca_file() +
                    "\nlog_level: debug\nlisten:\n  address: 127.0.0.1\n  port: " + std::to_string(ports[name]) +
                    "\n  public_url: https://hooks.example.com/\noperator:\n  listen: 127.0.0.1:" + std::to_string(ops[name]) +
                    "\ninstance: " + name + "\ncluster:\n  endpoints: " + etcd.endpoints_yaml() +
                    "\n  selectors: " + selectors + "\n  lease_ttl: 2s\n" +
                    (relay ? "  relay_key: {env: GITSYNCD_RELAY_KEY}\n" : ""));
      std::string auth = "provider: github\nauth:\n  username: deploy\n  password: {env: GITSYNCD_TEST_PASSWORD}\n"
                         "webhook:\n  enabled: true\n  secret: {env: GITSYNCD_HOOK_SECRET}\n  poll_interval: " +
                         poll + "\n";
      WriteFile(cfg + "/connectors.d/web.yaml", "name: web\ndelegate_selectors: [linux]\nurl: " + server.url("cfg") + "\n" + auth +
                                                    "syncs:\n  - name: web\n    path: app\n    local: " +
                                                    (dir / ("srv/" + name + "/web")) + "\n");
      WriteFile(cfg + "/connectors.d/win.yaml", "name: win\ndelegate_selectors: [windows]\nurl: " + server.url("tools") + "\n" + auth +
                                                    "syncs:\n  - name: win\n    path: win\n    local: " +
                                                    (dir / ("srv/" + name + "/win")) + "\n");
      if (exclusive) {
        WriteFile(cfg + "/connectors.d/shared.yaml",
                  "name: shared\nprovider: github\nurl: " + server.url("cfg") +
                      "\nauth:\n  username: deploy\n  password: {env: GITSYNCD_TEST_PASSWORD}\n"
                      "syncs:\n  - name: on-nfs\n    path: nfs\n    exclusive: true\n    poll_interval: 10s\n"
                      "    local: " + (dir / "nfs") + "\n");
      }
    }
  }
  CommandResult Cli(const std::string& instance, std::vector<std::string> args) {
    args.insert(args.begin(), {binary, "--config", dir / instance});
    return RunCommand(args, env);
  }
  // One webhook URL for the fleet (docs/fleet.md, three-host setup): made on alpha, its token
  // file copied to the others, as an operator does for the hosts behind the load balancer.
  void StartAll() {
    CommandResult url = Cli("alpha", {"webhook-url", "web"});
    BOOST_REQUIRE_MESSAGE(url.exit_code == 0, url.err);
    web_path = url.out.substr(std::string("https://hooks.example.com").size());
    web_path.pop_back();
    for (const std::string name : {"beta", "gamma"}) {
      std::filesystem::create_directories(dir / (name + "-state"));
      std::filesystem::copy(dir / "alpha-state/webhooks", dir / (name + "-state/webhooks"),
                            std::filesystem::copy_options::recursive);
    }
    for (const auto& name : kInstances) {
      std::filesystem::create_directories(dir / (name + "-run"));
      d[name] = std::make_unique<DaemonProcess>(binary, dir / name, dir / (name + "-run"), env);
    }
    for (const auto& name : kInstances) BOOST_REQUIRE_MESSAGE(d[name]->WaitForNotify("READY=1"), d[name]->Log());
  }
  std::string Logs() {
    std::string out;
    for (const auto& [name, p] : d) out += "--- " + name + "\n" + (p ? p->Log() : "(killed)") + "\n";
    return out;
  }
  std::string Head() {
    std::string h = Git({"--git-dir", server.repo_path("cfg"), "rev-parse", "main"}).out;
    return h.substr(0, h.find('\n'));
  }
  // instance name -> its binding names, from `cluster status --json` (empty when etcd does
  // not answer).
  std::map<std::string, std::vector<std::string>> Serving() {
    std::map<std::string, std::vector<std::string>> out;
    CommandResult r = Cli("alpha", {"cluster", "status", "--json", "--no-remote"});
    if (r.exit_code != 0) return out;
    boost::json::value status = boost::json::parse(r.out);
    for (const auto& i : status.at("instances").as_array()) {
      auto& names = out[std::string(i.at("name").as_string())];
      for (const auto& b : i.at("bindings").as_array()) names.emplace_back(b.at("name").as_string());
    }
    return out;
  }
  std::vector<std::string> Owners(const std::string& binding) {
    std::vector<std::string> out;
    for (const auto& [instance, bindings] : Serving()) {
      if (std::find(bindings.begin(), bindings.end(), binding) != bindings.end()) out.push_back(instance);
    }
    return out;
  }
  std::string Web(const std::string& instance) {
    std::string f = dir / ("srv/" + instance + "/web/replicas.yaml");
    return FileExists(f) ? ReadFile(f) : "";
  }
  // A signed GitHub push delivery for the `web` connector to `instance`'s listener.
  int Deliver(const std::string& instance, const std::string& before, const std::string& delivery) {
    const std::string& path = web_path;
    std::string body = GitHubPushPayload(before, Head());
    return HttpExchange(ports[instance], BuildRequest("POST", path,
                                                      {{"Content-Type", "application/json"},
                                                       {"X-GitHub-Event", "push"},
                                                       {"X-GitHub-Delivery", delivery},
                                                       {"X-Hub-Signature-256", "sha256=" + HmacHex(kHookSecret, body)}},
                                                      body))
        .status;
  }
  // Commits `replicas: n` and delivers it to `instance`.
  void ScaleAndDeliver(int n, const std::string& instance, const std::string& delivery) {
    std::string before = Head();
    person->Write("app/replicas.yaml", "replicas: " + std::to_string(n) + "\n");
    BOOST_REQUIRE(person->CommitAndPush("scale to " + std::to_string(n)));
    BOOST_TEST(Deliver(instance, before, delivery) == 202);
  }
  // The three instances with cluster.relay_key, each with the first commit in its folders.
  void StartRelayingFleet() {
    relay = true;
    Configure("0", false);
    StartAll();
    BOOST_REQUIRE_MESSAGE(WaitFor([&] { return LinuxFoldersAt(1) && Serving().size() == 3; }, 20s), Logs());
  }
  EtcdClientOptions EtcdOptions() const {
    EtcdClientOptions options;
    options.endpoints = etcd.endpoints();
    return options;
  }
  // Fetches gitsyncd made that downloaded objects: upload-pack POSTs by libgit2.
  int ObjectFetches() const {
    std::istringstream in(server.access_log());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      n += line.find("\"POST /git/cfg.git/git-upload-pack") != std::string::npos && line.find("libgit2") != std::string::npos;
    }
    return n;
  }
  bool LinuxFoldersAt(int n) {
    std::string want = "replicas: " + std::to_string(n) + "\n";
    return Web("alpha") == want && Web("beta") == want;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(fleet_cluster, ClusterFixture)

BOOST_AUTO_TEST_CASE(a_signed_delivery_to_one_instance_updates_every_matching_instance_and_not_the_others) {
  Configure("0", false);
  StartAll();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return LinuxFoldersAt(1) && FileExists(dir / "srv/gamma/win/setup.ini"); }),
                        Logs());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return Serving().size() == 3; }, 10s), Logs());
  auto serving = Serving();
  BOOST_TEST(serving["alpha"] == std::vector<std::string>{"web"}, boost::test_tools::per_element());
  BOOST_TEST(serving["beta"] == std::vector<std::string>{"web"}, boost::test_tools::per_element());
  BOOST_TEST(serving["gamma"] == std::vector<std::string>{"win"}, boost::test_tools::per_element());

  // Polling is off: only the fleet can bring the new commit to beta.
  ScaleAndDeliver(2, "alpha", "cluster-1");
  BOOST_TEST(WaitFor([&] { return LinuxFoldersAt(2); }, 10s), Logs());
  BOOST_TEST(d["beta"]->Log().find("received by alpha") != std::string::npos, d["beta"]->Log());
  // gamma does not carry `linux`: it never fetches for `web` nor makes its folder, and its
  // own binding (another repository) is not woken either.
  BOOST_TEST(!FileExists(dir / "srv/gamma/web"));
  BOOST_TEST(d["gamma"]->Log().find("received by alpha") == std::string::npos, d["gamma"]->Log());

  // The push in etcd names the new commit.
  std::string head = Head();
  BOOST_TEST(etcd.GetPrefix("/gitsyncd/pushes/").find("\"commit\":\"" + head + "\"") != std::string::npos,
             etcd.GetPrefix("/gitsyncd/pushes/"));

  // The same delivery again, now at beta (a load balancer retried it): published once.
  BOOST_TEST(Deliver("beta", Head(), "cluster-1") == 202);
  BOOST_TEST(WaitFor([&] { return d["beta"]->Log().find("delivery cluster-1 was already published") != std::string::npos; },
                     10s),
             d["beta"]->Log());

  // Another delivery naming a commit beta already has: beta does not fetch for it.
  BOOST_TEST(Deliver("alpha", Head(), "cluster-2") == 202);
  BOOST_TEST(WaitFor([&] { return d["beta"]->Log().find("already at " + head.substr(0, 12)) != std::string::npos; }, 10s),
             d["beta"]->Log());
  BOOST_TEST(d["beta"]->Log().find("remote trigger (fleet: webhook github cluster-2") == std::string::npos, d["beta"]->Log());
}

BOOST_AUTO_TEST_CASE(the_status_page_shows_every_instance_and_each_binding_against_the_branch_head) {
  Configure("0", false);
  StartAll();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return LinuxFoldersAt(1) && Serving().size() == 3; }, 20s), Logs());
  // beta's binding holds still, so the fleet has one binding behind the head.
  CommandResult paused = Cli("beta", {"pause", "web"});
  BOOST_REQUIRE_MESSAGE(paused.exit_code == 0, paused.err);
  ScaleAndDeliver(8, "alpha", "cluster-page");
  BOOST_REQUIRE(WaitFor([&] { return Web("alpha") == "replicas: 8\n"; }, 10s));
  std::string head = Head();
  // binding state by "instance/binding", from gamma's GET /api/v1/fleet.
  auto states = [&] {
    std::map<std::string, std::string> out;
    HttpReply r = HttpExchange(ops["gamma"], BuildRequest("GET", "/api/v1/fleet", {}, ""));
    if (r.status != 200) return out;
    boost::json::value v = boost::json::parse(r.body);
    for (const auto& i : v.at("instances").as_array()) {
      for (const auto& b : i.at("bindings").as_array()) {
        out[std::string(i.at("name").as_string()) + "/" + std::string(b.at("name").as_string())] =
            std::string(b.at("state").as_string());
      }
    }
    return out;
  };
  std::map<std::string, std::string> want{{"alpha/web", "at head"},
                                          {"beta/web", "behind head " + head.substr(0, 12)},
                                          {"gamma/win", "head unknown"}};  // no delivery named its head yet
  BOOST_TEST(WaitFor([&] { return states() == want; }, 15s), Logs());

  std::string dom = RenderedDom(dir / "profile", "http://127.0.0.1:" + std::to_string(ops["gamma"]) + "/");
  BOOST_TEST(dom.find("3 live instance(s)") != std::string::npos, dom);
  for (const auto& [row, state] : want) {
    std::string id = "id=\"fleet-" + row.substr(0, row.find('/')) + "-" + row.substr(row.find('/') + 1) + "\"";
    size_t at = dom.find(id);
    BOOST_TEST_REQUIRE(at != std::string::npos, id + " in\n" + dom);
    BOOST_TEST(dom.substr(at, dom.find("</tr>", at) - at).find(state) != std::string::npos, row);
  }
  BOOST_TEST(dom.find("beta, linux") != std::string::npos);  // beta's selectors
}

BOOST_AUTO_TEST_CASE(with_etcd_unreachable_instances_keep_syncing_by_polling_then_register_again_and_catch_up) {
  Configure("10s", false);
  StartAll();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return Serving().size() == 3; }, 10s), Logs());
  for (int i = 0; i < 3; ++i) etcd.Stop(i);
  BOOST_REQUIRE_MESSAGE(WaitFor([&] {
    return d["alpha"]->Log().find("keeps syncing its own bindings") != std::string::npos &&
           d["beta"]->Log().find("keeps syncing its own bindings") != std::string::npos;
  }, 10s), Logs());

  // A delivery to alpha while etcd is down: alpha syncs at once, beta by its own poll.
  ScaleAndDeliver(3, "alpha", "cluster-outage");
  BOOST_TEST(WaitFor([&] { return Web("alpha") == "replicas: 3\n"; }, 10s), Logs());
  BOOST_TEST(WaitFor([&] { return Web("beta") == "replicas: 3\n"; }, 15s), Logs());

  for (int i = 0; i < 3; ++i) etcd.Start(i);
  for (const auto& name : kInstances) {
    BOOST_TEST(WaitFor([&] { return d[name]->Log().find("fleet: etcd answers again") != std::string::npos; }, 20s),
               d[name]->Log());
  }
  // Registered again, and each binding reports the commit it caught up to.
  std::string head = Head();
  BOOST_TEST(WaitFor([&] {
    CommandResult r = Cli("gamma", {"cluster", "status", "--json"});
    if (r.exit_code != 0) return false;
    boost::json::value status = boost::json::parse(r.out);
    const auto& instances = status.at("instances").as_array();
    if (instances.size() != 3) return false;
    for (const auto& i : instances) {
      for (const auto& b : i.at("bindings").as_array()) {
        if (b.at("name").as_string() == "web" && b.at("commit").as_string() != head) return false;
      }
    }
    return true;
  }, 20s), Logs());
}

BOOST_AUTO_TEST_CASE(with_one_etcd_member_restarted_deliveries_still_reach_the_fleet) {
  Configure("0", false);
  StartAll();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return LinuxFoldersAt(1) && Serving().size() == 3; }, 20s), Logs());
  // The first endpoint of every instance goes away: requests and watches move to the others.
  etcd.Stop(0);
  ScaleAndDeliver(4, "alpha", "cluster-m0-down");
  BOOST_TEST(WaitFor([&] { return LinuxFoldersAt(4); }, 15s), Logs());
  etcd.Start(0);
  BOOST_REQUIRE(etcd.Healthy(0));
  etcd.Stop(1);
  ScaleAndDeliver(5, "beta", "cluster-m1-down");
  BOOST_TEST(WaitFor([&] { return LinuxFoldersAt(5); }, 15s), Logs());
  etcd.Start(1);
  BOOST_TEST(etcd.Healthy(1));
  BOOST_TEST(WaitFor([&] { return Serving().size() == 3; }, 10s), Logs());
}

BOOST_AUTO_TEST_CASE(an_exclusive_binding_fails_over_within_ttl_plus_one_pass_after_kill_9_losing_no_edit) {
  Configure("0", true);
  StartAll();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return Owners("on-nfs").size() == 1 && FileExists(dir / "nfs/a.txt"); }, 20s),
                        Logs());
  std::string owner = Owners("on-nfs")[0];
  WriteFile(dir / "nfs/local-edit.txt", "written just before the crash\n");
  d[owner]->Kill();
  d[owner].reset();
  auto killed = std::chrono::steady_clock::now();
  BOOST_TEST(WaitFor([&] {
    auto owners = Owners("on-nfs");
    return owners.size() == 1 && owners[0] != owner;
  }, 20s), Logs());
  // The lease (2 s) lapses, the next election round (a third of it) and one pass: under 6 s.
  BOOST_TEST((std::chrono::steady_clock::now() - killed < 6s));
  BOOST_TEST(WaitFor([&] {
    person->Pull();
    return FileExists(dir / "person/nfs/local-edit.txt");
  }, 20s), Logs());
  // Exactly one of the two survivors took it, and that started just this binding: no
  // survivor's engine was reloaded (its other bindings never paused for it).
  size_t taken = 0;
  for (const auto& [name, p] : d) {
    if (p && p->Log().find("now runs exclusive binding 'on-nfs'") != std::string::npos) ++taken;
    if (p) BOOST_TEST(p->Log().find("reloading config") == std::string::npos, name + ":\n" + p->Log());
  }
  BOOST_TEST(taken == 1u, Logs());
  // The survivors still serve `web` after the takeover: a delivery reaches both at once.
  ScaleAndDeliver(9, owner == "alpha" ? "beta" : "alpha", "cluster-after-failover");
  std::string want = "replicas: 9\n";
  for (const std::string name : {"alpha", "beta"}) {
    if (name != owner) BOOST_TEST(WaitFor([&] { return Web(name) == want; }, 10s), Logs());
  }
}

BOOST_AUTO_TEST_CASE(a_minority_partition_keeps_local_syncing_and_runs_no_exclusive_binding_twice) {
  Configure("10s", true);
  StartAll();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return Owners("on-nfs").size() == 1 && FileExists(dir / "nfs/a.txt"); }, 20s),
                        Logs());
  std::string owner = Owners("on-nfs")[0];
  // Member 0 alone has no quorum: no lease renews, no ownership can be created.
  etcd.Stop(1);
  etcd.Stop(2);
  BOOST_TEST(WaitFor([&] { return d[owner]->Log().find("stopping exclusive binding 'on-nfs'") != std::string::npos; },
                     10s),
             d[owner]->Log());
  person->Write("app/replicas.yaml", "replicas: 6\n");
  person->Write("nfs/b.txt", "b\n");
  BOOST_REQUIRE(person->CommitAndPush("during the partition"));
  // The bindings every instance runs alone keep syncing (by their poll).
  BOOST_TEST(WaitFor([&] { return LinuxFoldersAt(6); }, 15s), Logs());
  // Nobody runs the exclusive binding meanwhile: its folder does not move, and no instance
  // claims it.
  BOOST_TEST(!WaitFor([&] { return FileExists(dir / "nfs/b.txt"); }, 3s));
  for (const auto& [name, p] : d) {
    std::string log = p->Log();
    BOOST_TEST(log.find("now runs exclusive binding 'on-nfs'") == log.rfind("now runs exclusive binding 'on-nfs'"),
               name + " claimed on-nfs twice:\n" + log);
  }
  // The partition heals: one owner again, and the folder catches up.
  etcd.Start(1);
  etcd.Start(2);
  BOOST_TEST(WaitFor([&] { return Owners("on-nfs").size() == 1; }, 20s), Logs());
  BOOST_TEST(WaitFor([&] { return FileExists(dir / "nfs/b.txt"); }, 20s), Logs());
}

// docs/fleet.md, "Config from Git": alpha and beta each pull connectors.d from one config
// repository; a good push is checked and applied by both, each running what its selectors pick.
BOOST_AUTO_TEST_CASE(two_instances_pull_their_connectors_from_git_and_both_apply_a_good_push) {
  server.CreateBareRepo("fleet");
  GitClone admin(server.url_with_credentials("fleet"), dir / "admin", "main", server.git_env());
  auto connector = [&](const std::string& instance, const std::string& what) {
    return "name: " + what + "-" + instance + "\nprovider: git\ndelegate_selectors: [" + instance + "]\nurl: " +
           server.url("cfg") + "\nauth:\n  username: deploy\n  password: {secret: git-password}\nsyncs:\n  - name: " +
           what + "-" + instance + "\n    path: " + (what == "web" ? "app" : "nfs") + "\n    local: " +
           (dir / ("srv/" + instance + "/" + what)) + "\n";
  };
  for (const std::string name : {"alpha", "beta"}) admin.Write("web-" + name + ".yaml", connector(name, "web"));
  BOOST_REQUIRE(admin.CommitAndPush("web for alpha and beta"));
  for (const std::string name : {"alpha", "beta"}) {
    std::string cfg = dir / name;
    WriteFile(cfg + "/gitsyncd.yaml",
              "state_dir: " + (dir / (name + "-state")) + "\nca_file: " + server.ca_file() + "\ninstance: " + name +
                  "\noperator:\n  listen: 127.0.0.1:" + std::to_string(ops[name]) + "\ncluster:\n  endpoints: " +
                  etcd.endpoints_yaml() + "\n  selectors: [" + name + "]\n  lease_ttl: 2s\n"
                  "config_source:\n  url: " + server.url("fleet") + "\n  auth:\n    username: deploy\n"
                  "    password: {secret: git-password}\n  poll_interval: 10s\n  local_roots: [" + (dir / "srv") + "]\n"
                  "  secret_hosts:\n    git-password: [localhost]\n");
    BOOST_REQUIRE(Cli(name, {"secret", "init"}).exit_code == 0);
    BOOST_REQUIRE(RunCommand({binary, "--config", cfg, "secret", "set", "git-password"}, env, "Cluster-pass-2026").exit_code == 0);
    std::filesystem::create_directories(dir / (name + "-run"));
    d[name] = std::make_unique<DaemonProcess>(binary, cfg, dir / (name + "-run"), env);
  }
  for (const std::string name : {"alpha", "beta"}) BOOST_REQUIRE_MESSAGE(d[name]->WaitForNotify("READY=1"), d[name]->Log());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return LinuxFoldersAt(1); }, 30s), Logs());

  // The push adds a connector per instance; the poll (10s) brings it to each.
  for (const std::string name : {"alpha", "beta"}) admin.Write("nfs-" + name + ".yaml", connector(name, "nfs"));
  BOOST_REQUIRE(admin.CommitAndPush("nfs for alpha and beta"));
  BOOST_TEST(WaitFor([&] { return FileExists(dir / "srv/alpha/nfs/a.txt") && FileExists(dir / "srv/beta/nfs/a.txt"); }, 40s),
             Logs());
  for (const std::string name : {"alpha", "beta"}) {
    BOOST_TEST(d[name]->Log().find("connectors.d now holds commit " + admin.Head()) != std::string::npos, d[name]->Log());
  }
}

BOOST_AUTO_TEST_SUITE_END()

// Relayed objects (docs/fleet.md): with cluster.relay_key only the instance that received the
// delivery fetches from the Git server; records written straight into etcd by someone without
// the key, or replayed, change no folder.
BOOST_FIXTURE_TEST_SUITE(fleet_relay, ClusterFixture)

namespace {

// A pack of `commit`'s objects that `base` lacks, made by the git CLI in `clone`.
std::string PackOf(const std::string& clone, const std::string& commit, const std::string& base, const TempDir& dir) {
  std::string out = dir / "forged.pack";
  CommandResult r = RunCommand({"sh", "-c", "git -C '" + clone + "' rev-list --objects " + commit + " --not " + base +
                                                " | git -C '" + clone + "' pack-objects --stdout > '" + out + "'"});
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return ReadFile(out);
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// Writes a push and its pack in one transaction, as a fleet member would.
void PutRecord(EtcdClient& client, const std::string& claim, const FleetPush& p, const std::string& pack) {
  ClusterConfig c;
  auto put = client.PutIfAbsent(c.prefix + "deliveries/" + claim, "mallory", 0,
                                {{PackKey(c, p.remote, p.branch), pack}, {PushKey(c, p.remote, p.branch), PushToJson(p)}});
  BOOST_REQUIRE_MESSAGE(put.ok() && *put, put.status().message());
}

}  // namespace

BOOST_AUTO_TEST_CASE(only_the_receiver_fetches_its_small_pack_rides_in_the_record_and_forged_or_replayed_relays_change_no_folder) {
  StartRelayingFleet();
  EtcdClient client(EtcdOptions());
  ClusterConfig keys;

  int fetches = ObjectFetches();
  ScaleAndDeliver(2, "alpha", "relay-1");
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return LinuxFoldersAt(2); }, 10s), Logs());
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(ObjectFetches() - fetches == 1, server.access_log());  // alpha's only
  BOOST_TEST(d["beta"]->Log().find("objects relayed") != std::string::npos, d["beta"]->Log());
  // The genuine record of commit 2, kept for a replay below. Its pack (a few hundred bytes)
  // came inside it: no key of its own, no read of one.
  std::string remote = server.url("cfg");
  auto genuine_push = client.Get(PushKey(keys, remote, "main"));
  BOOST_REQUIRE(genuine_push.ok() && genuine_push->has_value());
  auto record = PushFromJson((*genuine_push)->value);
  BOOST_REQUIRE(record.ok());
  BOOST_TEST(record->relay_pack.substr(0, 4) == "PACK");
  auto no_pack = client.Get(PackKey(keys, remote, "main"));
  BOOST_TEST((no_pack.ok() && !no_pack->has_value()));
  ScaleAndDeliver(3, "alpha", "relay-2");
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return LinuxFoldersAt(3); }, 10s), Logs());

  // Someone who can write to etcd but lacks the key: a commit with other content, a pack of
  // it and a MAC made with another key. Nobody takes it; each instance fetches the real head.
  std::string real = Head();
  person->Write("app/replicas.yaml", "replicas: 666\n");
  Git({"commit", "-qam", "forged"}, person->dir(), server.git_env());
  std::string forged = person->Head();
  FleetPush evil;
  evil.remote = remote;
  evil.branch = "main";
  evil.commit = forged;
  evil.from = "mallory";
  evil.reason = "webhook github evil-1";
  evil.delivery = "evil-1";
  evil.relay_base = real;
  evil.relay_pack = PackOf(person->dir(), forged, real, dir);
  auto other_key = RelayKey::FromSecret("not-the-fleet-key-but-long-enough-0123456789", "test");
  BOOST_REQUIRE(other_key.ok());
  evil.relay_mac = other_key->Mac({evil.remote, evil.branch, evil.relay_base, evil.commit, evil.relay_pack});
  Git({"reset", "-q", "--hard", "HEAD^"}, person->dir());
  PutRecord(client, "evil-1", evil, evil.relay_pack);
  for (const std::string name : {"alpha", "beta"}) {
    BOOST_TEST(WaitFor([&] { return d[name]->Log().find("refused the relayed objects of main " + forged.substr(0, 12)) !=
                                    std::string::npos; }, 10s),
               d[name]->Log());
  }
  BOOST_TEST(d["beta"]->Log().find(PushKey(keys, remote, "main")) != std::string::npos);
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(LinuxFoldersAt(3), Logs());
  BOOST_TEST(Git({"--git-dir", server.repo_path("cfg"), "rev-parse", "main"}).out.substr(0, 40) == real);

  // The genuine record of commit 2 again (a valid MAC, an older commit): no folder goes back.
  {
    auto put = client.PutIfAbsent(keys.prefix + "deliveries/replay-2", "mallory", 0,
                                  {{PushKey(keys, remote, "main"), (*genuine_push)->value}});
    BOOST_REQUIRE(put.ok() && *put);
  }
  BOOST_TEST(WaitFor([&] { return d["beta"]->Log().find("does not descend from the known head") != std::string::npos; },
                     10s),
             d["beta"]->Log());
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(LinuxFoldersAt(3), Logs());
}

// A relayed pack travels in the push record up to 4 KiB, in a key of its own up to 512 KiB,
// and not at all beyond: then every instance fetches.
BOOST_AUTO_TEST_CASE(larger_relayed_packs_take_a_key_of_their_own_and_the_largest_are_not_relayed) {
  StartRelayingFleet();
  EtcdClient client(EtcdOptions());
  ClusterConfig keys;
  std::string remote = server.url("cfg");
  std::mt19937 random(20261130);
  const std::string letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto incompressible = [&](size_t n) {  // 6 bits a byte: no pack makes it small
    std::string text;
    while (text.size() < n) text += letters[random() % 64];
    return text;
  };
  // A pack over 4 KiB is relayed through a key of its own, read back by beta.
  std::string medium = incompressible(64 * 1024);
  person->Write("app/medium.txt", medium);
  int fetches = ObjectFetches();
  auto relayed = [&] { return Count(d["beta"]->Log(), "objects relayed"); };
  size_t relayed_before = relayed();
  ScaleAndDeliver(5, "alpha", "relay-medium");
  std::string beta_medium = dir / "srv/beta/web/medium.txt";
  BOOST_TEST(WaitFor([&] { return LinuxFoldersAt(5) && FileExists(beta_medium) && ReadFile(beta_medium) == medium; }, 15s),
             Logs());
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(ObjectFetches() - fetches == 1, server.access_log());  // alpha's only
  BOOST_TEST(relayed() == relayed_before + 1, d["beta"]->Log());
  auto medium_pack = client.Get(PackKey(keys, remote, "main"));
  BOOST_TEST((medium_pack.ok() && medium_pack->has_value() && (*medium_pack)->value.size() > 48 * 1024));

  // New objects over the cap: the push goes out without them and every instance fetches.
  person->Write("app/big.txt", incompressible(1024 * 1024));
  fetches = ObjectFetches();
  ScaleAndDeliver(4, "alpha", "relay-big");
  BOOST_TEST(WaitFor([&] { return LinuxFoldersAt(4); }, 15s), Logs());
  BOOST_TEST(WaitFor([&] { return d["alpha"]->Log().find("exceed 512 KiB") != std::string::npos; }, 5s), d["alpha"]->Log());
  BOOST_TEST(ObjectFetches() - fetches == 2, server.access_log());
}

BOOST_AUTO_TEST_CASE(without_a_relay_key_every_instance_fetches_for_itself) {
  Configure("0", false);
  StartAll();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return LinuxFoldersAt(1) && Serving().size() == 3; }, 20s), Logs());
  int fetches = ObjectFetches();
  ScaleAndDeliver(2, "alpha", "plain-1");
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return LinuxFoldersAt(2); }, 10s), Logs());
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(ObjectFetches() - fetches == 2, server.access_log());  // alpha's and beta's
  BOOST_TEST(d["beta"]->Log().find("objects relayed") == std::string::npos);
}

// An exclusive binding runs on one instance: the others neither index relayed objects for it
// nor trigger it, and their logs do not claim to fetch for it.
BOOST_AUTO_TEST_CASE(only_the_owner_of_an_exclusive_binding_acts_on_a_relayed_push_for_it) {
  relay = true;
  Configure("0", true);
  StartAll();
  BOOST_REQUIRE_MESSAGE(
      WaitFor([&] { return LinuxFoldersAt(1) && Owners("on-nfs").size() == 1 && FileExists(dir / "nfs/a.txt"); }, 20s),
      Logs());
  std::string owner = Owners("on-nfs")[0];
  ScaleAndDeliver(2, "alpha", "relay-owned");
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return LinuxFoldersAt(2); }, 10s), Logs());
  std::this_thread::sleep_for(500ms);
  BOOST_TEST(d["beta"]->Log().find("sync 'web': relayed") != std::string::npos, d["beta"]->Log());
  for (const auto& name : kInstances) {
    if (name == owner || name == "alpha") continue;  // alpha received it: it fetched, nothing relayed to it
    std::string log = d[name]->Log();
    BOOST_TEST(log.find("sync 'on-nfs': relayed") == std::string::npos, name + ":\n" + log);
    BOOST_TEST(log.find("sync 'on-nfs': remote trigger") == std::string::npos, name + ":\n" + log);
  }
}

BOOST_AUTO_TEST_SUITE_END()
