// gitsyncd.yaml `config_source:` run by a real `gitsyncd run` against the HTTPS test server
// (docs/fleet.md, "Config from Git"): connectors.d is pulled from a config repository; a good
// push adds a connector whose folder syncs without a restart; a bad push (invalid YAML, an
// invalid connector, a connector reaching outside local_roots, a huge file) is not applied,
// the bindings already running keep syncing, and status, the operator API and the metrics name
// the file and line; a fix then applies.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "tests/daemon/https_daemon_fixture.h"
#include "tests/support/loopback_listener.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

struct ConfigSourceFixture : HttpsDaemonFixture {
  std::string connectors = cfg + "/connectors.d";
  std::unique_ptr<GitClone> admin;  // whoever edits the config repository

  ConfigSourceFixture() : HttpsDaemonFixture({"app", "other"}) {
    server.CreateBareRepo("fleet");
    std::filesystem::remove_all(connectors);  // it comes from Git now
    WriteFile(cfg + "/gitsyncd.yaml",
              "state_dir: " + state + "\nca_file: " + server.ca_file() + "\noperator:\n  listen: 127.0.0.1:" +
                  std::to_string(operator_port) +
                  "\nconfig_source:\n  url: " + server.url("fleet") +
                  "\n  path: connectors.d\n  auth:\n    username: deploy\n    password: {secret: git-password}\n"
                  "  local_roots: [" + dir / "srv" + "]\n  secret_hosts:\n    git-password: [localhost]\n");
    BOOST_REQUIRE(Cli({"secret", "init"}).exit_code == 0);
    CommandResult set = RunCommand({binary, "--config", cfg, "secret", "set", "git-password"}, env, kPassword);
    BOOST_REQUIRE_MESSAGE(set.exit_code == 0, set.err);
    admin = std::make_unique<GitClone>(server.url_with_credentials("fleet"), dir / "admin", "main", server.git_env());
    admin->Write("connectors.d/team.yaml", Team({"app"}));
    admin->Write("README.md", "the fleet's connectors\n");
    BOOST_REQUIRE(admin->CommitAndPush("team connector"));
  }
  // The team connector as the config repository holds it: one sync per name.
  std::string Team(const std::vector<std::string>& syncs, const std::string& extra = "") {
    std::string yaml = "name: team\nprovider: git\nurl: " + server.url("cfg") +
                       "\nauth:\n  username: deploy\n  password: {secret: git-password}\nsyncs:\n";
    for (const auto& b : syncs) yaml += "  - name: " + b + "\n    path: " + b + "\n    local: " + Local(b) + "\n";
    return yaml + extra;
  }
  void AdminPushes(const std::string& path, const std::string& content) {
    admin->Write(path, content);
    BOOST_REQUIRE(admin->CommitAndPush("admin edits " + path));
  }
  std::string Metrics() { return Operator("GET", "/metrics").body; }
  // The config source's binding in GET /api/v1/status.
  boost::json::object ApiStatusOfSource() {
    auto all = boost::json::parse(Operator("GET", "/api/v1/status").body);
    for (const auto& b : all.at("bindings").as_array()) {
      if (b.at("name").as_string() == "config-source") return b.as_object();
    }
    BOOST_FAIL("no config-source in /api/v1/status");
    return {};
  }
  // A bad commit: refused whole, the error naming `where` (file:line) in sync-now, status,
  // the operator API and the metrics; connectors.d unchanged and the app binding still syncing.
  void ExpectRefused(const std::string& where, const std::string& problem, const std::string& file, int line) {
    std::string bad = admin->Head();
    std::string before = ReadFile(connectors + "/team.yaml");
    CommandResult r = Cli({"sync-now", "config-source"});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("commit " + bad + " on branch main is refused: check-config found") != std::string::npos, r.err);
    BOOST_TEST(r.err.find(where + ": " + problem) != std::string::npos, r.err);
    BOOST_TEST(ReadFile(connectors + "/team.yaml") == before);
    CommandResult status = Cli({"status"});
    BOOST_TEST(status.out.find("last error:     commit " + bad) != std::string::npos, status.out);
    BOOST_TEST(status.out.find(where + ": " + problem) != std::string::npos, status.out);
    auto api = ApiStatusOfSource();
    BOOST_TEST(std::string(api.at("last_error").as_string()).find(where) != std::string::npos);
    BOOST_TEST(api.at("refused").at("file").as_string() == file);
    BOOST_TEST(api.at("refused").at("line").as_int64() == line);
    std::string metrics = Metrics();
    std::string gauge = "gitsyncd_config_source_error{commit=\"" + bad + "\",file=\"" + file + "\",line=\"" +
                        std::to_string(line) + "\"} 1\n";
    BOOST_TEST(metrics.find(gauge) != std::string::npos, metrics);
    // The bindings of the config in force go on syncing.
    PersonPushes("app/while-refused.yaml", "at: " + bad + "\n");
    BOOST_TEST(Cli({"sync-now", "app"}).exit_code == 0);
    BOOST_TEST(ReadFile(Local("app") + "/while-refused.yaml") == "at: " + bad + "\n");
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(config_source, ConfigSourceFixture)

BOOST_AUTO_TEST_CASE(a_good_push_to_the_config_repository_adds_a_connector_whose_folder_syncs_without_restart) {
  auto daemon = StartDaemon();
  // The first pass brings connectors.d from Git; the reload starts its binding.
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return InFolder("app", "seed.yaml"); }, 30s), daemon->Log());
  BOOST_TEST(!FileExists(connectors + "/README.md"));  // only the `path` folder of the repository
  BOOST_TEST(!InFolder("other", "seed.yaml"));
  // The drop-in lets the sandboxed unit write connectors.d and whatever a push adds under local_roots.
  CommandResult drop_in = Cli({"systemd-drop-in"});
  BOOST_TEST(drop_in.out.find("ReadWritePaths=\"-" + connectors + "\"\n") != std::string::npos, drop_in.out);
  BOOST_TEST(drop_in.out.find("ReadWritePaths=\"-" + dir / "srv" + "\"\n") != std::string::npos, drop_in.out);
  BOOST_TEST(Cli({"check-config"}).out.find("connector \"config-source\"") != std::string::npos);

  // A second connector file, pushed: found by the poll (config_source.poll_interval 1m is too
  // slow for a test, so sync-now asks at once, as a webhook would), checked, written, reloaded.
  size_t notes = daemon->notifications().size();
  AdminPushes("connectors.d/other.yaml",
              "name: more\nprovider: git\nurl: " + server.url("cfg") +
                  "\nauth:\n  username: deploy\n  password: {secret: git-password}\nsyncs:\n"
                  "  - name: other\n    path: other\n    local: " + Local("other") + "\n");
  CommandResult now = Cli({"sync-now", "config-source"});
  BOOST_TEST(now.exit_code == 0, now.err);
  BOOST_TEST(FileExists(connectors + "/other.yaml"));
  BOOST_REQUIRE_MESSAGE(daemon->WaitForNotifyAfter(notes, "READY=1"), daemon->Log());
  BOOST_TEST(daemon->Log().find("config source: connectors.d now holds commit " + admin->Head() + "; reloading") !=
                 std::string::npos, daemon->Log());
  BOOST_TEST(WaitFor([&] { return InFolder("other", "seed.yaml"); }));
  // The same process (no restart), and the first binding still syncs.
  BOOST_TEST(::kill(daemon->pid(), 0) == 0);
  PersonPushes("app/after.yaml", "after: reload\n");
  BOOST_TEST(Cli({"sync-now", "app"}).exit_code == 0);
  BOOST_TEST(InFolder("app", "after.yaml"));
  std::string metrics = Metrics();
  BOOST_TEST(metrics.find("gitsyncd_config_source_error 0\n") != std::string::npos, metrics);
  BOOST_TEST(metrics.find("gitsyncd_config_source_commit_info{commit=\"" + admin->Head() + "\"} 1\n") != std::string::npos,
             metrics);
  StopDaemon(daemon);
}

BOOST_AUTO_TEST_CASE(a_bad_push_is_not_applied_and_status_and_metrics_name_the_file_and_line_until_a_fix_applies) {
  auto daemon = StartDaemon();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return InFolder("app", "seed.yaml"); }, 30s), daemon->Log());
  std::string good = admin->Head();

  // Invalid YAML in a new file. The whole commit waits: the good edit in team.yaml beside it too.
  admin->Write("connectors.d/team.yaml", Team({"app", "other"}));
  AdminPushes("connectors.d/broken.yaml", "name: broken\nprovider: [git\n");
  ExpectRefused(connectors + "/broken.yaml:3:1", "YAML syntax error", connectors + "/broken.yaml", 3);
  BOOST_TEST(!FileExists(connectors + "/broken.yaml"));
  BOOST_TEST(!InFolder("other", "seed.yaml"));

  // YAML that parses, but a connector check-config refuses.
  AdminPushes("connectors.d/broken.yaml", "name: broken\nprovider: git\nurl: " + server.url("cfg") +
                                              "\nsyncs:\n  - name: b\n    local: " + Local("b") +
                                              "\n    direction: sideways\n");
  ExpectRefused(connectors + "/broken.yaml:7:16", "syncs[0].direction: 'sideways' is not one of", connectors + "/broken.yaml", 7);

  // Hostile: a folder outside local_roots, a secret read from a file, a file too big to parse.
  AdminPushes("connectors.d/broken.yaml", "name: broken\nprovider: git\nurl: " + server.url("cfg") +
                                              "\nauth:\n  password: {file: " + state + "/master.key}\n"
                                              "syncs:\n  - name: b\n    local: " + dir / "etc/stolen" + "\n");
  ExpectRefused(connectors + "/broken.yaml:5:13", "auth.password: a connector from Git may use only {secret: NAME}",
                connectors + "/broken.yaml", 5);
  CommandResult status = Cli({"status"});
  BOOST_TEST(status.out.find(connectors + "/broken.yaml:7:5: syncs[0].local: folder " + dir / "etc/stolen" +
                             " is outside config_source.local_roots") != std::string::npos, status.out);
  // Hostile: the team connector pointed at another server (127.0.0.1, not the listed
  // localhost), keeping its {secret: git-password}. Refused before any connection is made: the
  // other server is never contacted, so it never sees the password.
  {
    LoopbackListener trap;
    std::string moved = "name: team\nprovider: git\nurl: https://127.0.0.1:" + std::to_string(trap.port()) +
                        "/git/cfg.git\nauth:\n  username: deploy\n  password: {secret: git-password}\nsyncs:\n"
                        "  - name: app\n    path: app\n    local: " + Local("app") + "\n";
    admin->Remove("connectors.d/broken.yaml");
    AdminPushes("connectors.d/team.yaml", moved);
    ExpectRefused(connectors + "/team.yaml:6:13",
                  "auth.password: secret 'git-password' would be sent to 127.0.0.1, which config_source.secret_hosts "
                  "of " + cfg + "/gitsyncd.yaml does not list for it (it lists localhost)",
                  connectors + "/team.yaml", 6);
    BOOST_TEST(trap.Contacted() == 0, "the other server was contacted");
    admin->Write("connectors.d/team.yaml", Team({"app", "other"}));
  }
  AdminPushes("connectors.d/huge.yaml", "name: huge\n# " + std::string(1100 * 1024, 'x') + "\n");
  ExpectRefused(connectors + "/huge.yaml", "file is larger than 1 MiB; refusing to parse it", connectors + "/huge.yaml", 0);

  // The fix: every file valid. Applied whole, the error gone, the new binding running.
  admin->Remove("connectors.d/huge.yaml");
  BOOST_REQUIRE(admin->CommitAndPush("fix"));
  CommandResult fixed = Cli({"sync-now", "config-source"});
  BOOST_TEST(fixed.exit_code == 0, fixed.err);
  BOOST_TEST(WaitFor([&] { return InFolder("other", "seed.yaml"); }), daemon->Log());
  BOOST_TEST(!FileExists(connectors + "/huge.yaml"));
  BOOST_TEST(!FileExists(connectors + "/broken.yaml"));
  std::string metrics = Metrics();
  BOOST_TEST(metrics.find("gitsyncd_config_source_error 0\n") != std::string::npos, metrics);
  BOOST_TEST(metrics.find("gitsyncd_config_source_commit_info{commit=\"" + admin->Head() + "\"}") != std::string::npos);
  BOOST_TEST(admin->Head() != good);
  StopDaemon(daemon);
}

BOOST_AUTO_TEST_SUITE_END()
