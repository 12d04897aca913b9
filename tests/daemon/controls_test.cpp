// Operator controls of a running `gitsyncd run` against the HTTPS test server: pause and
// resume (CLI through the control socket, offline under the instance lock, and the operator
// API), and what status, the status JSON and /metrics show for them.
#include <signal.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "tests/daemon/https_daemon_fixture.h"

using namespace gitsyncd::testing;
using namespace std::chrono_literals;

namespace {

using ControlsFixture = HttpsDaemonFixture;

}  // namespace

BOOST_FIXTURE_TEST_SUITE(controls, ControlsFixture)

BOOST_AUTO_TEST_CASE(a_paused_binding_moves_nothing_across_a_restart_and_resume_syncs_both_sides) {
  auto daemon = StartDaemon();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return InFolder("app", "seed.yaml") && InFolder("other", "seed.yaml"); }),
                        daemon->Log());

  CommandResult paused = Cli({"pause", "app"});
  BOOST_TEST(paused.exit_code == 0, paused.err);
  BOOST_TEST(paused.out.find("app: paused") != std::string::npos, paused.out);

  // A local edit and a remote push on the paused binding; the same on "other", which is not
  // paused and shows when the daemon would have synced them.
  WriteFile(Local("app") + "/local.yaml", "edited: while paused\n");
  WriteFile(Local("other") + "/local.yaml", "edited: beside it\n");
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return OnRemote("other/local.yaml"); }), daemon->Log());
  CommandResult refused = Cli({"sync-now", "app"});
  BOOST_TEST(refused.exit_code == 1);
  BOOST_TEST(refused.err.find("sync 'app' is paused") != std::string::npos, refused.err);
  BOOST_TEST(!OnRemote("app/local.yaml"));

  StopDaemon(daemon);
  PersonPushes("app/remote.yaml", "pushed: while paused\n");
  PersonPushes("other/remote.yaml", "pushed: beside it\n");
  daemon = StartDaemon();
  // Every binding's first pass after a start fetches; "other" shows it ran.
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return InFolder("other", "remote.yaml"); }), daemon->Log());
  std::this_thread::sleep_for(1s);  // the passes of both bindings start together
  BOOST_TEST(!InFolder("app", "remote.yaml"));
  BOOST_TEST(!OnRemote("app/local.yaml"));
  BOOST_TEST(ReadFile(Local("app") + "/local.yaml") == "edited: while paused\n");

  CommandResult status = Cli({"status"});
  BOOST_TEST(status.exit_code == 0, status.out + status.err);  // a pause alone is not a failure
  BOOST_TEST(status.out.find("PAUSED:         since ") != std::string::npos, status.out);
  BOOST_TEST(StatusOf("app").at("paused").as_bool());
  BOOST_TEST(!StatusOf("other").at("paused").as_bool());

  CommandResult resumed = Cli({"resume", "app"});
  BOOST_TEST(resumed.exit_code == 0, resumed.err);
  BOOST_TEST(resumed.out.find("app: resumed; a full pass is queued") != std::string::npos, resumed.out);
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return OnRemote("app/local.yaml") && InFolder("app", "remote.yaml"); }),
                        daemon->Log());
  BOOST_TEST(Remote("app/local.yaml") == "edited: while paused\n");
  BOOST_TEST(ReadFile(Local("app") + "/remote.yaml") == "pushed: while paused\n");
  BOOST_TEST(!StatusOf("app").at("paused").as_bool());
  StopDaemon(daemon);
}

BOOST_AUTO_TEST_CASE(pause_made_while_the_daemon_is_stopped_holds_and_the_operator_api_resumes_and_pauses) {
  CommandResult offline = Cli({"pause", "app"});
  BOOST_TEST(offline.exit_code == 0, offline.err);
  BOOST_TEST(offline.out.find("daemon not running: saved for its next start") != std::string::npos, offline.out);
  WriteFile(Local("app") + "/early.yaml", "written: before the daemon started\n");

  auto daemon = StartDaemon();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return InFolder("other", "seed.yaml"); }), daemon->Log());
  std::this_thread::sleep_for(1s);
  BOOST_TEST(!InFolder("app", "seed.yaml"));
  BOOST_TEST(!OnRemote("app/early.yaml"));
  HttpReply metrics = Operator("GET", "/metrics");
  BOOST_TEST(metrics.body.find("gitsyncd_paused{binding=\"app\"} 1") != std::string::npos, metrics.body);
  BOOST_TEST(metrics.body.find("gitsyncd_paused{binding=\"other\"} 0") != std::string::npos, metrics.body);
  HttpReply status = Operator("GET", "/api/v1/status");
  BOOST_TEST(status.body.find("\"name\":\"app\"") != std::string::npos);
  boost::json::value parsed = boost::json::parse(status.body);
  for (const auto& b : parsed.at("bindings").as_array()) {
    BOOST_TEST(b.at("paused").as_bool() == (b.at("name").as_string() == "app"), status.body);
  }

  BOOST_TEST(Operator("GET", "/api/v1/syncs/app/resume").status == 405);
  BOOST_TEST(Operator("POST", "/api/v1/syncs/nope/resume").status == 404);
  HttpReply resumed = Operator("POST", "/api/v1/syncs/app/resume");
  BOOST_TEST(resumed.status == 202, resumed.body);
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return OnRemote("app/early.yaml") && InFolder("app", "seed.yaml"); }),
                        daemon->Log());
  BOOST_TEST(Operator("GET", "/metrics").body.find("gitsyncd_paused{binding=\"app\"} 0") != std::string::npos);

  HttpReply paused = Operator("POST", "/api/v1/syncs/app/pause");
  BOOST_TEST(paused.status == 202, paused.body);
  BOOST_TEST(WaitFor([&] { return StatusOf("app").at("paused").as_bool(); }), daemon->Log());  // saved to state.json
  WriteFile(Local("app") + "/late.yaml", "written: after the api paused it\n");
  WriteFile(Local("other") + "/late.yaml", "written: beside it\n");
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return OnRemote("other/late.yaml"); }), daemon->Log());
  BOOST_TEST(!OnRemote("app/late.yaml"));
  StopDaemon(daemon);
}

// Makes a keep-both conflict on a.yaml of binding `app`: paused, both sides edit the same
// line, resumed. Returns the person's commit (the remote side).
std::string MakeConflict(ControlsFixture& f, const std::string& round) {
  BOOST_REQUIRE(f.Cli({"pause", "app"}).exit_code == 0);
  WriteFile(f.Local("app") + "/a.yaml", "v: local " + round + "\n");
  f.PersonPushes("app/a.yaml", "v: remote " + round + "\n");
  std::string remote_side = f.person->Head();
  BOOST_REQUIRE(f.Cli({"resume", "app"}).exit_code == 0);
  return remote_side;
}

std::string OpenConflictBranch(ControlsFixture& f) {
  std::string branch;
  WaitFor([&] {
    auto all = boost::json::parse(f.Cli({"conflicts", "app", "--json"}).out).at("conflicts").as_array();
    if (all.size() == 1) branch = std::string(all[0].at("branch").as_string());
    return !branch.empty();
  });
  return branch;
}

BOOST_AUTO_TEST_CASE(a_keep_both_conflict_is_listed_with_both_sides_and_resolving_it_closes_it_everywhere) {
  PersonPushes("app/a.yaml", "v: 1\n");
  auto daemon = StartDaemon();
  BOOST_REQUIRE_MESSAGE(WaitFor([&] { return InFolder("app", "a.yaml"); }), daemon->Log());
  std::string remote_side = MakeConflict(*this, "one");
  std::string branch = OpenConflictBranch(*this);
  BOOST_REQUIRE_MESSAGE(!branch.empty(), daemon->Log());

  // Listed with its files and both sides; the branch holds the local side.
  auto listed = boost::json::parse(Cli({"conflicts", "--json"}).out).at("conflicts").as_array();
  BOOST_REQUIRE(listed.size() == 1u);
  const auto& c = listed[0].as_object();
  BOOST_TEST(c.at("binding").as_string() == "app");
  BOOST_TEST(c.at("files").as_array().size() == 1u);
  BOOST_TEST(c.at("files").as_array()[0].as_string() == "a.yaml");
  BOOST_TEST(c.at("remote_commit").as_string() == remote_side);
  BOOST_TEST(c.at("branch_holds").as_string() == "local");
  std::string local_side(c.at("local_commit").as_string());
  BOOST_TEST(LogFormat(server.repo_path("cfg"), branch, "%H").substr(0, 40) == local_side);
  BOOST_TEST(ShowFile(server.repo_path("cfg"), branch, "app/a.yaml") == "v: local one\n");
  CommandResult text = Cli({"conflicts"});
  BOOST_TEST(text.exit_code == 0);
  BOOST_TEST(text.out.find("app  " + branch + "  OPEN (keep-both") != std::string::npos, text.out);
  BOOST_TEST(text.out.find("  local:   " + local_side + "  (on the conflict branch)") != std::string::npos, text.out);
  BOOST_TEST(text.out.find("  remote:  " + remote_side) != std::string::npos, text.out);
  BOOST_TEST(text.out.find("  file:    a.yaml") != std::string::npos, text.out);
  BOOST_TEST(Cli({"status"}).exit_code == 3);
  BOOST_TEST(Operator("GET", "/metrics").body.find("gitsyncd_open_conflicts{binding=\"app\"} 1") != std::string::npos);

  CommandResult wrong = Cli({"conflicts", "resolve", "app", "gitsyncd/conflicts/app/nope"});
  BOOST_TEST(wrong.exit_code == 1);
  BOOST_TEST(wrong.err.find("sync 'app' has no conflict branch 'gitsyncd/conflicts/app/nope'") != std::string::npos,
             wrong.err);

  CommandResult resolved = Cli({"conflicts", "resolve", "app", branch, "--delete-branch"});
  BOOST_TEST(resolved.exit_code == 0, resolved.err);
  BOOST_TEST(resolved.out.find("marked resolved; the branch is deleted on the remote") != std::string::npos, resolved.out);
  auto branches = Branches(server.repo_path("cfg"));
  BOOST_TEST((std::find(branches.begin(), branches.end(), branch) == branches.end()));
  BOOST_TEST(Operator("GET", "/metrics").body.find("gitsyncd_open_conflicts{binding=\"app\"} 0") != std::string::npos);
  BOOST_TEST(Cli({"status"}).exit_code == 0);
  auto in_status = StatusOf("app").at("conflicts").as_array();
  BOOST_REQUIRE(in_status.size() == 1u);
  BOOST_TEST(in_status[0].at("resolved").as_bool());
  BOOST_TEST(Operator("GET", "/api/v1/status").body.find("\"resolved\":true") != std::string::npos);
  BOOST_TEST(Cli({"conflicts"}).out == "no open conflicts\n");
  BOOST_TEST(Cli({"conflicts", "--all"}).out.find("resolved ") != std::string::npos);

  // Stopped daemon: resolved by the CLI itself, under the instance lock; the branch stays.
  MakeConflict(*this, "two");
  std::string second = OpenConflictBranch(*this);
  BOOST_REQUIRE_MESSAGE(!second.empty(), daemon->Log());
  StopDaemon(daemon);
  BOOST_TEST(Cli({"status"}).exit_code == 3);
  CommandResult offline = Cli({"conflicts", "resolve", "app", second});
  BOOST_TEST(offline.exit_code == 0, offline.err);
  BOOST_TEST(Cli({"status"}).exit_code == 0);
  branches = Branches(server.repo_path("cfg"));
  BOOST_TEST((std::find(branches.begin(), branches.end(), second) != branches.end()));
}

BOOST_AUTO_TEST_SUITE_END()
