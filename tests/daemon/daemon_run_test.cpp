// `gitsyncd run` end to end against a real HTTPS Git server (nginx + git http-backend, TLS,
// basic auth), driven the way an operator would: files in the folder, pushes from another
// clone, `sync-now`, `status --json`, `test-connection`, SIGTERM under a systemd-like
// NOTIFY_SOCKET.
#include <signal.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"
#include "tests/support/wait_for.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

struct DaemonFixture {
  TempDir dir;
  GitHttpsServer server{"deploy", "Pa55-word-for-test"};
  std::string binary = RequiredEnv("GITSYNCD_BINARY");
  std::string cfg = dir / "etc";
  std::string local = dir / "srv/app";
  std::map<std::string, std::string> env{{"GITSYNCD_TEST_PASSWORD", "Pa55-word-for-test"}, {"GITSYNCD_CONFIG", ""}};

  DaemonFixture() {
    server.CreateBareRepo("cfg");
    WriteFile(cfg + "/gitsyncd.yaml",
              "state_dir: " + (dir / "state") + "\nca_file: " + server.ca_file() + "\nlog_level: debug\n");
    WriteFile(cfg + "/connectors.d/team.yaml",
              "name: team\nprovider: git\nurl: " + server.url("cfg") +
                  "\nauth:\n  username: deploy\n  password: {env: GITSYNCD_TEST_PASSWORD}\n"
                  "commit_author:\n  name: Daemon Bot\n  email: daemon@example.com\n"
                  "syncs:\n  - name: app\n    path: apps/app\n    local: " + local + "\n");
  }
  CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {binary, "--config", cfg});
    return RunCommand(args, env);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(daemon_run, DaemonFixture)

BOOST_AUTO_TEST_CASE(daemon_syncs_both_ways_and_reports_to_systemd) {
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  person.Write("apps/app/replicas.yaml", "replicas: 1\n");
  person.Write("other/untouched.txt", "x\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));

  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(local + "/replicas.yaml"); }), daemon.Log());
  BOOST_TEST(ReadFile(local + "/replicas.yaml") == "replicas: 1\n");

  // Local edit -> committed with the connector's author and pushed, within moments.
  WriteFile(local + "/replicas.yaml", "replicas: 3\n");
  BOOST_TEST(WaitFor([&] { return ShowFile(server.repo_path("cfg"), "main", "apps/app/replicas.yaml") == "replicas: 3\n"; }),
             daemon.Log());
  BOOST_TEST(LogFormat(server.repo_path("cfg"), "main", "%an") == "Daemon Bot\n");

  // Remote push -> sync-now brings it into the folder.
  person.Pull();
  person.Write("apps/app/new.yaml", "new: true\n");
  BOOST_REQUIRE(person.CommitAndPush("remote adds"));
  CommandResult now = Cli({"sync-now", "app"});
  BOOST_TEST(now.exit_code == 0, now.err);
  BOOST_TEST(now.out.find("app: pulled: 1 file written, 0 deleted") == 0u, now.out);
  BOOST_TEST(ReadFile(local + "/new.yaml") == "new: true\n");

  CommandResult status = Cli({"status", "--json"});
  BOOST_REQUIRE(status.exit_code == 0);
  auto v = boost::json::parse(status.out).as_object();
  const auto& b = v.at("bindings").as_array().at(0).as_object();
  BOOST_TEST(std::string(b.at("last_synced_commit").as_string()) + "\n" ==
             Git({"--git-dir", server.repo_path("cfg"), "rev-parse", "main"}).out);
  BOOST_TEST(std::string(b.at("last_error").as_string()) == "");

  CommandResult test = Cli({"test-connection", "team"});
  BOOST_TEST(test.exit_code == 0, test.err);
  BOOST_TEST(test.out.find("OK: " + server.url("cfg") + ": authenticated") == 0u, test.out);

  CommandResult unknown = Cli({"sync-now", "nope"});
  BOOST_TEST(unknown.exit_code == 1);
  BOOST_TEST(unknown.err == "gitsyncd: error: no sync binding named 'nope' in " + cfg + "\n");

  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
  BOOST_TEST(daemon.WaitForNotify("STOPPING=1", 1s));
  std::string log = daemon.Log();
  BOOST_TEST(log.find("Pa55-word-for-test") == std::string::npos);
}

// `sync-now NAME --dry-run` lists what a pass would push and pull and changes nothing: a
// server hook refuses the daemon's pushes, so a local edit stays pending while the person
// pushes a new file; the dry run shows both, and neither the folder, the branch nor the
// binding's synced commit moves.
BOOST_AUTO_TEST_CASE(sync_now_dry_run_prints_what_a_pass_would_push_and_pull_and_changes_nothing) {
  InstallServerHook(server.repo_path("cfg"), "pre-receive", R"SH(#!/bin/sh
while read old new ref; do
  for c in $(git rev-list "$new" --not --all); do
    case "$(git log -1 --format=%s "$c")" in gitsyncd*) echo "no bot commits today" >&2; exit 1;; esac
  done
done
)SH");
  GitClone person(server.url_with_credentials("cfg"), dir / "person", "main", server.git_env());
  person.Write("apps/app/replicas.yaml", "replicas: 1\n");
  person.Write("apps/app/old.yaml", "old: true\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(local + "/replicas.yaml"); }), daemon.Log());
  auto synced = [&] {
    auto v = boost::json::parse(Cli({"status", "--json"}).out).as_object();
    const auto& b = v.at("bindings").as_array().at(0).as_object();
    return std::pair{std::string(b.at("last_synced_commit").as_string()), std::string(b.at("last_error").as_string())};
  };
  // The file lands before the pass records its commit.
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return !synced().first.empty(); }), daemon.Log());
  std::string seed = synced().first;
  WriteFile(local + "/replicas.yaml", "replicas: 3\n");
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return synced().second.find("declined") != std::string::npos; }), daemon.Log());
  person.Write("apps/app/new.yaml", "new: true\n");
  person.Remove("apps/app/old.yaml");
  BOOST_REQUIRE(person.CommitAndPush("remote adds and deletes"));
  std::string head = Git({"--git-dir", server.repo_path("cfg"), "rev-parse", "main"}).out.substr(0, 12);

  CommandResult dry = Cli({"sync-now", "app", "--dry-run"});
  BOOST_TEST(dry.exit_code == 0, dry.err);
  BOOST_TEST(dry.out == "app: dry run against remote commit " + head + " (nothing was changed)\n"
                        "would push 1 change:\n  M replicas.yaml\n"
                        "would pull 2 changes:\n  A new.yaml\n  D old.yaml\n"
                        "note: both sides changed: the changes would be merged (on_conflict: keep-both)\n");
  // Nothing changed: the folder, the branch and the synced commit are as they were.
  BOOST_TEST(!FileExists(local + "/new.yaml"));
  BOOST_TEST(ReadFile(local + "/old.yaml") == "old: true\n");
  BOOST_TEST(ReadFile(local + "/replicas.yaml") == "replicas: 3\n");
  BOOST_TEST(ShowFile(server.repo_path("cfg"), "main", "apps/app/replicas.yaml") == "replicas: 1\n");
  BOOST_TEST(Git({"--git-dir", server.repo_path("cfg"), "rev-parse", "main"}).out.substr(0, 12) == head);
  BOOST_TEST(synced().first == seed);
  CommandResult unknown = Cli({"sync-now", "nope", "--dry-run"});
  BOOST_TEST(unknown.exit_code == 1);
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}

BOOST_AUTO_TEST_CASE(sync_now_without_a_daemon_says_so) {
  CommandResult r = Cli({"sync-now", "app"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("gitsyncd: error: gitsyncd is not running (no daemon listens on " + (dir / "state/control.sock")) == 0u,
             r.err);
}

BOOST_AUTO_TEST_CASE(test_connection_reports_a_bad_password) {
  env["GITSYNCD_TEST_PASSWORD"] = "wrong";
  CommandResult r = Cli({"test-connection", "team"});
  BOOST_TEST(r.exit_code == 1);
  BOOST_TEST(r.err.find("test-connection 'team' failed: connect to " + server.url("cfg") +
                        ": authentication failed for user 'deploy' at localhost") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(status_exits_3_while_a_binding_fails_and_0_once_it_recovers) {
  env["GITSYNCD_TEST_PASSWORD"] = "wrong";
  {
    DaemonProcess daemon(binary, cfg, dir.path(), env);
    BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
    BOOST_REQUIRE_MESSAGE(WaitFor([&] { return Cli({"status"}).exit_code != 0; }), daemon.Log());
    CommandResult failing = Cli({"status"});
    BOOST_TEST(failing.exit_code == 3, failing.out + failing.err);
    BOOST_TEST(failing.out.find("authentication failed") != std::string::npos, failing.out);
    BOOST_TEST(Cli({"status", "--json"}).exit_code == 3);
    daemon.Signal(SIGTERM);
    BOOST_TEST(daemon.Wait() == 0);
  }
  env["GITSYNCD_TEST_PASSWORD"] = "Pa55-word-for-test";
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return Cli({"status"}).exit_code == 0; }, 20s), daemon.Log() + Cli({"status"}).out);
}

BOOST_AUTO_TEST_SUITE_END()
