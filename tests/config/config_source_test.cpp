// gitsyncd.yaml `config_source:` (docs/fleet.md, "Config from Git"): the binding it defines, its
// own mistakes named at their file:line, and what a connector pushed to the config repository
// may not do, each refused naming the place.
#include <boost/test/unit_test.hpp>

#include "config/config_source.h"
#include "tests/config/config_test_util.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

const std::string kDaemon =
    "state_dir: /var/lib/gitsyncd-test\n"
    "config_source:\n"
    "  url: https://git.example.com/ops/fleet.git\n"
    "  branch: live\n"
    "  path: connectors\n"
    "  auth:\n"
    "    username: deploy\n"
    "    password: {secret: fleet-token}\n"
    "  local_roots: [/srv/app, /etc/app/]\n"
    "  secret_hosts:\n"
    "    app-token: [git.example.com]\n";

std::string Pushed(const std::string& extra_connector, const std::string& extra_sync = "") {
  return "name: app\nprovider: git\nurl: https://git.example.com/ops/app.git\n"
         "auth:\n  username: deploy\n  password: {secret: app-token}\n" +
         extra_connector + "syncs:\n  - name: app\n    local: /srv/app/web\n" + extra_sync;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_source)

BOOST_AUTO_TEST_CASE(config_source_is_a_pull_binding_of_connectors_d_defined_in_gitsyncd_yaml) {
  auto c = LoadConnectors({{"app.yaml", Pushed("")}}, kDaemon);
  BOOST_TEST(c.errors.empty(), c.errors.front());
  const Config& config = c.result.config;
  BOOST_REQUIRE(config.daemon.config_source.configured);
  BOOST_TEST((config.daemon.config_source.local_roots == std::vector<std::string>{"/srv/app", "/etc/app"}));
  BOOST_REQUIRE_EQUAL(config.connectors.size(), 2u);
  const ConnectorConfig& src = config.connectors.front();
  BOOST_TEST(src.name == kConfigSourceName);
  BOOST_TEST(src.auth.password.value == "fleet-token");
  BOOST_REQUIRE_EQUAL(src.syncs.size(), 1u);
  const SyncBinding& s = src.syncs[0];
  BOOST_TEST(s.name == kConfigSourceName);
  BOOST_TEST(s.local == config.daemon.config_source.folder);
  BOOST_TEST(s.local.ends_with("/connectors.d"));
  BOOST_TEST(s.path == "connectors");
  BOOST_TEST(s.branch == "live");
  BOOST_TEST((s.direction == SyncDirection::kPull));
  BOOST_TEST(s.poll_interval.count() == 60);
  BOOST_TEST(s.remote_url == "https://git.example.com/ops/fleet.git");
}

BOOST_AUTO_TEST_CASE(config_source_mistakes_are_named_at_their_place_in_gitsyncd_yaml) {
  auto c = LoadConnectors({}, "config_source:\n  url: http://git.example.com/x.git\n  poll_interval: 5s\n"
                              "  auth:\n    password: hunter2\n  local_roots: [/]\n  brnach: x\n");
  std::string all;
  for (const auto& e : c.errors) all += e + "\n";
  BOOST_TEST(all.find("gitsyncd.yaml:7:3: config_source.brnach: unknown key 'brnach' (did you mean 'branch'?)") != std::string::npos, all);
  BOOST_TEST(all.find("gitsyncd.yaml:6:17: config_source.local_roots[0]: must not be /\n") != std::string::npos, all);
  BOOST_TEST(all.find("gitsyncd.yaml:2:8: config_source.url: 'http://git.example.com/x.git'") != std::string::npos, all);
  BOOST_TEST(all.find("gitsyncd.yaml:5:15: config_source.auth.password: secret values never appear in YAML") !=
                 std::string::npos, all);
  BOOST_TEST(all.find("gitsyncd.yaml:3:18: config_source.poll_interval: must be at least 10s") != std::string::npos, all);

  auto missing = LoadConnectors({}, "config_source:\n  branch: main\n");
  BOOST_TEST(missing.errors.size() == 2u);
  std::string both = missing.errors.at(0) + "\n" + missing.errors.at(1);
  BOOST_TEST(both.find("config_source.local_roots: required key is missing") != std::string::npos, both);
  BOOST_TEST(both.find("config_source.url: required key is missing") != std::string::npos, both);
}

BOOST_AUTO_TEST_CASE(a_pushed_connector_may_not_sync_outside_local_roots_run_hooks_or_read_secrets_from_files) {
  auto c = LoadConnectors(
      {{"app.yaml", Pushed("api:\n  token: {file: /var/lib/gitsyncd/master.key}\n",
                           "    hooks:\n      after_pull:\n        command: [sh, -c, 'curl evil']\n"
                           "  - name: etc\n    local: /etc/ssh\n")},
       {"env.yaml", "name: env\nprovider: git\nurl: https://git.example.com/ops/x.git\n"
                    "auth:\n  password: {env: HOME}\nsyncs:\n  - name: x\n    local: /etc/app/x\n"}},
      kDaemon);
  std::vector<std::string> expected = {
      "connectors.d/app.yaml:8:10: api.token: a connector from Git may use only {secret: NAME} (the local encrypted "
      "store): {file: ...} and {env: ...} would let a push send any file or variable the daemon can read to a server",
      "connectors.d/app.yaml:10:5: syncs[0].hooks: a connector from Git may not run hooks (whoever can push to the "
      "config repository would run programs as the daemon's user) unless config_source.allow_hooks is true in "
      "gitsyncd.yaml",
      "connectors.d/app.yaml:15:5: syncs[1].local: folder /etc/ssh is outside config_source.local_roots (/srv/app, "
      "/etc/app) of gitsyncd.yaml; a connector from Git may sync only folders under them",
      "connectors.d/env.yaml:5:13: auth.password: a connector from Git may use only {secret: NAME} (the local "
      "encrypted store): {file: ...} and {env: ...} would let a push send any file or variable the daemon can read "
      "to a server"};
  BOOST_TEST(c.errors == expected, boost::test_tools::per_element());

  // allow_hooks lets hooks through; the other limits stay.
  auto allowed = LoadConnectors({{"app.yaml", Pushed("", "    hooks:\n      after_pull:\n        command: [true]\n")}},
                                kDaemon + "  allow_hooks: true\n");
  BOOST_TEST(allowed.errors.empty());
}

// A push that points a connector at its own server, keeping the {secret: NAME} it had, would
// receive that secret with the first request: each secret goes only to the hosts
// secret_hosts lists for it, whether as a clone URL, a sync's repository or the API's.
BOOST_AUTO_TEST_CASE(a_pushed_connector_may_send_a_secret_only_to_the_hosts_secret_hosts_lists_for_it) {
  auto c = LoadConnectors(
      {{"moved.yaml", "name: moved\nprovider: git\nurl: https://Evil.example:8443/ops/app.git\n"
                      "auth:\n  username: deploy\n  password: {secret: app-token}\n"
                      "syncs:\n  - name: app\n    local: /srv/app/web\n"},
       {"api.yaml", "name: api\nprovider: github\nurl: https://git.example.com/ops/app.git\n"
                    "api:\n  token: {secret: app-token}\n  url: https://collector.example/api\n"
                    "syncs:\n  - name: api\n    local: /srv/app/api\n"},
       {"unlisted.yaml", "name: unlisted\nprovider: git\nurl: https://git.example.com/ops/app.git\n"
                         "auth:\n  password: {secret: deploy-key}\n"
                         "syncs:\n  - name: unlisted\n    local: /srv/app/unlisted\n"}},
      kDaemon);
  std::vector<std::string> expected = {
      "connectors.d/api.yaml:5:10: api.token: secret 'app-token' would be sent to collector.example, which "
      "config_source.secret_hosts of gitsyncd.yaml does not list for it (it lists git.example.com)",
      "connectors.d/moved.yaml:6:13: auth.password: secret 'app-token' would be sent to evil.example, which "
      "config_source.secret_hosts of gitsyncd.yaml does not list for it (it lists git.example.com)",
      "connectors.d/unlisted.yaml:5:13: auth.password: secret 'deploy-key' is not in config_source.secret_hosts of "
      "gitsyncd.yaml: a connector from Git may send a secret only to the hosts listed for it there, or a push could "
      "send it to any server (add e.g. deploy-key: [git.example.com])"};
  std::string got;
  for (const auto& e : c.errors) got += e + "\n";
  BOOST_TEST(c.errors == expected, got);

  // Listed, the same connectors load; a GitHub connector without api.url also talks to
  // api.github.com, which must be listed as well.
  auto listed = LoadConnectors(
      {{"api.yaml", "name: api\nprovider: github\nurl: https://github.com/ops/app.git\n"
                    "api:\n  token: {secret: gh-token}\nsyncs:\n  - name: api\n    local: /srv/app/api\n"}},
      kDaemon + "    gh-token: [github.com]\n");
  BOOST_REQUIRE_EQUAL(listed.errors.size(), 1u);
  BOOST_TEST(listed.errors[0].find("secret 'gh-token' would be sent to api.github.com") != std::string::npos,
             listed.errors[0]);
  auto both = LoadConnectors(
      {{"api.yaml", "name: api\nprovider: github\nurl: https://github.com/ops/app.git\n"
                    "api:\n  token: {secret: gh-token}\nsyncs:\n  - name: api\n    local: /srv/app/api\n"}},
      kDaemon + "    gh-token: [github.com, API.github.com]\n");
  std::string first = both.errors.empty() ? "" : both.errors.front();
  BOOST_TEST(both.errors.empty(), first);

  auto bad = LoadConnectors({}, kDaemon + "    web: https://git.example.com/\n    ssh: [\"git.example.com:22\"]\n");
  std::string all;
  for (const auto& e : bad.errors) all += e + "\n";
  BOOST_TEST(all.find("gitsyncd.yaml:12:10: config_source.secret_hosts.web: must be a list of host names") !=
                 std::string::npos, all);
  BOOST_TEST(all.find("gitsyncd.yaml:13:11: config_source.secret_hosts.ssh[0]: must be a host name such as "
                      "git.example.com (no scheme, user, port or path)") != std::string::npos, all);
}

BOOST_AUTO_TEST_CASE(a_connector_file_may_not_take_the_config_source_name_or_its_folder) {
  auto c = LoadConnectors({{"app.yaml", "name: Config-Source\nprovider: git\nurl: https://git.example.com/x.git\n"
                                        "syncs:\n  - name: config-source\n    local: /srv/app/x\n"
                                        "  - name: inside\n    local: /srv/app/y\n"}},
                          "config_source:\n  url: https://git.example.com/ops/fleet.git\n  local_roots: [/srv/app]\n");
  std::string all;
  for (const auto& e : c.errors) all += e + "\n";
  BOOST_TEST(all.find("connectors.d/app.yaml:1:1: name: 'config-source' is reserved for the binding of "
                      "gitsyncd.yaml's config_source") != std::string::npos, all);
  BOOST_TEST(all.find("connectors.d/app.yaml:5:5: name: 'config-source' is reserved") != std::string::npos, all);
  // Without config_source the name is reserved all the same (metrics and status key on it).
  auto plain = LoadConnector("name: config-source\nprovider: git\nurl: https://git.example.com/x.git\n");
  BOOST_TEST(plain.errors.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_commit_is_checked_from_another_folder_and_its_errors_name_connectors_d) {
  TempDir dir;
  WriteFile(dir / "gitsyncd.yaml", kDaemon);
  WriteFile(dir / "connectors.d/app.yaml", Pushed(""));
  WriteFile(dir / "commit/app.yaml", Pushed("", "    direction: sideways\n"));
  WriteFile(dir / "commit/new.yaml", "name: [unclosed\n");
  ConfigLoadResult r = LoadConfig(dir.path(), dir / "commit");
  BOOST_REQUIRE_EQUAL(r.errors.size(), 2u);
  BOOST_TEST(r.errors[0].ToString().find(dir / "connectors.d/app.yaml:10:16: syncs[0].direction:") == 0,
             r.errors[0].ToString());
  BOOST_TEST(r.errors[1].ToString().find(dir / "connectors.d/new.yaml:2:1: YAML syntax error") == 0,
             r.errors[1].ToString());
  // The directory itself is fine, and is what a plain load reads.
  BOOST_TEST(LoadConfig(dir.path()).ok());
}

BOOST_AUTO_TEST_SUITE_END()
