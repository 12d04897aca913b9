// Hooks run by a real `gitsyncd run` (docs/sync.md, "Hooks"), as shell scripts and programs an
// operator would write: validate_remote refusing a remote commit and accepting its fix,
// validate_local holding a push and letting it go, after_pull seeing what changed, and a hook
// that hangs: killed with its whole process group at its timeout while another binding syncs.
#include <signal.h>
#include <sys/types.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <future>
#include <thread>

#include "tests/daemon/https_daemon_fixture.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

// Running (a zombie no one reaped in this container counts as gone).
bool Alive(const std::string& pid_file) {
  if (!FileExists(pid_file)) return false;
  std::string pid = ReadFile(pid_file);
  while (!pid.empty() && pid.back() == '\n') pid.pop_back();
  if (pid.empty()) return false;
  std::string stat = FileExists("/proc/" + pid + "/stat") ? ReadFile("/proc/" + pid + "/stat") : "";
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

struct HooksFixture : HttpsDaemonFixture {
  std::string marks = dir / "marks";
  std::string slow_remote = dir / "slow.git";
  std::unique_ptr<GitClone> slow_person;

  HooksFixture() : HttpsDaemonFixture({"app", "loc"}) {
    std::filesystem::create_directories(marks);
    InitBareRepo(slow_remote);
    WriteFile(cfg + "/gitsyncd.yaml", "state_dir: " + state + "\nca_file: " + server.ca_file() + "\n");
    // after_pull for every sync of the connector; validate_* per sync.
    WriteFile(cfg + "/connectors.d/team.yaml",
              "name: team\nprovider: git\nurl: " + server.url("cfg") +
                  "\nauth:\n  username: deploy\n  password: {env: GITSYNCD_TEST_PASSWORD}\n"
                  "hooks:\n  after_pull:\n    command: [sh, -c, 'cp \"$GITSYNCD_CHANGED_FILES\" " + marks +
                  "/after_pull-$GITSYNCD_BINDING.txt']\n"
                  "syncs:\n"
                  "  - name: app\n    path: app\n    local: " + Local("app") + "\n"
                  "    hooks:\n      validate_remote:\n        command: [sh, -c, 'env > " + marks +
                  "/env.txt; cp \"$GITSYNCD_CHANGED_FILES\" " + marks +
                  "/changed.txt; if grep -rl \"bad: true\" .; then echo refusing bad: true; exit 1; fi']\n"
                  "        timeout: 20s\n"
                  "  - name: loc\n    path: loc\n    local: " + Local("loc") + "\n"
                  "    hooks:\n      validate_local:\n        command: [sh, -c, 'test ! -e " + marks +
                  "/deny || { echo push denied by policy; exit 3; }']\n");
    WriteFile(cfg + "/connectors.d/slow.yaml",
              "name: slow\nprovider: git\nurl: file://" + slow_remote +
                  "\nsyncs:\n  - name: slow\n    local: " + Local("slow") +
                  "\n    hooks:\n      validate_remote:\n        command: [sh, -c, 'echo $$ > " + marks +
                  "/hook.pid; sleep 1000 & echo $! > " + marks + "/sleep.pid; wait']\n        timeout: 15s\n");
  }
  std::string HookResult(const std::string& binding, const std::string& hook) {
    auto o = StatusOf(binding);
    if (!o.contains("hooks")) return "";
    for (const auto& h : o.at("hooks").as_array()) {
      if (h.at("hook").as_string() == hook) return std::string(h.at("result").as_string());
    }
    return "";
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(hooks, HooksFixture)

BOOST_AUTO_TEST_CASE(hooks_refuse_and_accept_remote_and_local_changes_and_after_pull_sees_what_changed) {
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(Local("app") + "/seed.yaml") && FileExists(Local("loc") + "/seed.yaml"); }),
                        daemon.Log());
  // after_pull (the connector's) ran for the first pull of each binding.
  // after_pull runs once the folder is written: its mark may not exist yet.
  std::string after_pull_loc = marks + "/after_pull-loc.txt";
  BOOST_TEST(WaitFor([&] { return FileExists(after_pull_loc) && ReadFile(after_pull_loc) == "seed.yaml\n"; }));

  // validate_remote refuses a commit holding `bad: true`: nothing of it reaches the folder.
  PersonPushes("app/svc.yaml", "name: svc\nbad: true\n");
  std::string bad_commit = person->Head();
  CommandResult refused = Cli({"sync-now", "app"});
  BOOST_TEST(refused.exit_code == 1);
  BOOST_TEST(refused.err.find("commit " + bad_commit + " on branch main is refused: hook validate_remote exited with 1: "
                              "./svc.yaml\nrefusing bad: true") != std::string::npos,
             refused.err);
  BOOST_TEST(!FileExists(Local("app") + "/svc.yaml"));
  BOOST_TEST(HookResult("app", "validate_remote").find("refusing bad: true") != std::string::npos);
  // Its environment: the documented variables, nothing of the daemon's own.
  std::string hook_env = ReadFile(marks + "/env.txt");
  BOOST_TEST(hook_env.find("GITSYNCD_BINDING=app\n") != std::string::npos, hook_env);
  BOOST_TEST(hook_env.find("GITSYNCD_COMMIT=" + bad_commit + "\n") != std::string::npos, hook_env);
  BOOST_TEST(hook_env.find("GITSYNCD_DIRECTION=pull\n") != std::string::npos, hook_env);
  BOOST_TEST(hook_env.find("GITSYNCD_TREE=" + state + "/bindings/app/hook-tree-") != std::string::npos, hook_env);
  BOOST_TEST(hook_env.find(kPassword) == std::string::npos, hook_env);
  BOOST_TEST(ReadFile(marks + "/changed.txt") == "svc.yaml\n");

  // The fix is applied, and after_pull lists it.
  PersonPushes("app/svc.yaml", "name: svc\nbad: false\n");
  CommandResult fixed = Cli({"sync-now", "app"});
  BOOST_TEST(fixed.exit_code == 0, fixed.err);
  BOOST_TEST(ReadFile(Local("app") + "/svc.yaml") == "name: svc\nbad: false\n");
  BOOST_TEST(ReadFile(marks + "/after_pull-app.txt") == "svc.yaml\n");

  // validate_local holds a push; the edit stays pending and goes out once the hook accepts.
  WriteFile(marks + "/deny", "");
  WriteFile(Local("loc") + "/new.yaml", "added: locally\n");
  BOOST_REQUIRE(WaitFor([&] { return HookResult("loc", "validate_local").find("push denied by policy") != std::string::npos; }));
  auto held = StatusOf("loc");
  BOOST_TEST(std::string(held.at("last_error").as_string()).find("push held: hook validate_local exited with 3: push denied by policy") !=
                 std::string::npos,
             held.at("last_error").as_string());
  BOOST_TEST(!OnRemote("loc/new.yaml"));
  BOOST_TEST(ReadFile(Local("loc") + "/new.yaml") == "added: locally\n");
  std::filesystem::remove(marks + "/deny");
  CommandResult pushed = Cli({"sync-now", "loc"});
  BOOST_TEST(pushed.exit_code == 0, pushed.err);
  BOOST_TEST(OnRemote("loc/new.yaml"));
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
}

BOOST_AUTO_TEST_CASE(a_hanging_hook_is_killed_with_its_group_at_its_timeout_and_on_stop_and_delays_no_other_binding) {
  DaemonProcess daemon(binary, cfg, dir.path(), env);
  BOOST_REQUIRE_MESSAGE(daemon.WaitForNotify("READY=1"), daemon.Log());
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return FileExists(Local("app") + "/seed.yaml"); }), daemon.Log());
  slow_person = std::make_unique<GitClone>("file://" + slow_remote, dir / "slow-person");
  slow_person->Write("a.yaml", "a: 1\n");
  BOOST_REQUIRE(slow_person->CommitAndPush("to the slow binding"));
  auto slow = std::async(std::launch::async, [&] { return Cli({"sync-now", "slow"}); });
  BOOST_REQUIRE(WaitFor([&] { return Alive(marks + "/sleep.pid"); }));

  // While the hook hangs, another binding pulls and pushes.
  PersonPushes("app/other.yaml", "pulled: while the hook hangs\n");
  BOOST_TEST(Cli({"sync-now", "app"}).exit_code == 0);
  WriteFile(Local("loc") + "/beside.yaml", "pushed: while the hook hangs\n");
  BOOST_TEST(WaitFor([&] { return OnRemote("loc/beside.yaml"); }));
  BOOST_TEST(FileExists(Local("app") + "/other.yaml"));
  // All of that happened within the hook's time (15 s: room for a loaded machine).
  BOOST_TEST(Alive(marks + "/hook.pid"), daemon.Log());

  CommandResult timed_out = slow.get();
  BOOST_TEST(timed_out.exit_code == 1);
  BOOST_TEST(timed_out.err.find("hook validate_remote was killed at its timeout") != std::string::npos, timed_out.err);
  BOOST_TEST(WaitFor([&] { return !Alive(marks + "/hook.pid") && !Alive(marks + "/sleep.pid"); }));
  BOOST_TEST(!FileExists(Local("slow") + "/a.yaml"));

  // The failed pass is retried (with backoff) and the hook hangs again; stopping the daemon
  // kills it and what it started.
  std::filesystem::remove(marks + "/sleep.pid");
  BOOST_REQUIRE(WaitFor([&] { return Alive(marks + "/sleep.pid"); }, 30s));
  daemon.Signal(SIGTERM);
  BOOST_TEST(daemon.Wait() == 0);
  BOOST_TEST(!Alive(marks + "/hook.pid"));
  BOOST_TEST(!Alive(marks + "/sleep.pid"));
}

BOOST_AUTO_TEST_SUITE_END()
