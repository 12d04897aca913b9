// A person pushes to the branch at the worst moment of gitsyncd's own push: after gitsyncd
// read the remote branch and before it updates it. The remote must refuse gitsyncd's update
// (the branch no longer holds the commit the push was planned on), and the next attempt merges:
// the person's commit stays on the branch. Driven deterministically through the test-only push
// hook, against a file:// remote and the nginx + git http-backend HTTPS server.
#include <boost/test/unit_test.hpp>
#include <cstdlib>

#include "sync/remote_ops.h"
#include "tests/support/git_servers.h"
#include "tests/sync/sync_test_util.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

struct HookReset {
  ~HookReset() { SetPushRaceHookForTesting(nullptr); }
};

// `repo`: the remote's bare repository on disk; `person`: a clone of it.
void PushRacingGitsyncdKeepsThePersonsCommit(SyncFixture& f, const std::string& repo, GitClone& person,
                                              const std::map<std::string, std::string>& env) {
  person.Write("config/seed.txt", "seed\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  f.Sync();
  f.WriteLocal("local.txt", "a local edit\n");
  person.Write("config/remote.txt", "pushed while gitsyncd pushes\n");
  Git({"add", "--all"}, person.dir(), env);
  Git({"commit", "--quiet", "-m", "racing push"}, person.dir(), env);
  std::string racing = person.Head();
  int pushes = 0;
  HookReset reset;
  SetPushRaceHookForTesting([&] {
    if (pushes++ == 0) Git({"push", "--quiet", "origin", "HEAD:refs/heads/main"}, person.dir(), env);
  });
  f.Sync();
  BOOST_REQUIRE(pushes >= 1);  // the person pushed inside gitsyncd's push
  CommandResult kept = Git({"--git-dir", repo, "merge-base", "--is-ancestor", racing, "main"}, "", {}, true);
  BOOST_TEST(kept.exit_code == 0, "the person's commit " + racing + " is no longer on main");
  BOOST_TEST(ShowFile(repo, "main", "config/remote.txt") == "pushed while gitsyncd pushes\n");
  BOOST_TEST(ShowFile(repo, "main", "config/local.txt") == "a local edit\n");
  BOOST_TEST((f.LocalExists("remote.txt") && f.Local("remote.txt") == "pushed while gitsyncd pushes\n"));
  CommandResult fsck = Git({"--git-dir", repo, "fsck", "--strict"}, "", {}, true);
  BOOST_TEST(fsck.exit_code == 0, fsck.out + fsck.err);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(push_race)

BOOST_AUTO_TEST_CASE(a_push_landing_during_gitsyncds_push_to_a_file_remote_is_never_rewound) {
  SyncFixture f;
  GitClone person = f.Person();
  PushRacingGitsyncdKeepsThePersonsCommit(f, f.remote, person, {});
}

BOOST_AUTO_TEST_CASE(a_push_landing_during_gitsyncds_push_over_https_is_never_rewound) {
  SyncFixture f;
  GitHttpsServer server;
  server.CreateBareRepo("cfg");
  f.spec.remote.url = server.url("cfg");
  f.spec.remote.username = server.user();
  f.spec.remote.password = server.password();
  BOOST_REQUIRE(ConfigureTls(server.ca_file()).ok());
  GitClone person(server.url_with_credentials("cfg"), f.dir / "person", "main", server.git_env());
  PushRacingGitsyncdKeepsThePersonsCommit(f, server.repo_path("cfg"), person, server.git_env());
}

// Pushes to a file:// remote run `git receive-pack`: without the git program the pass fails with
// a message naming what is missing, and the edit is pushed once git is back.
BOOST_AUTO_TEST_CASE(a_push_to_a_file_remote_without_the_git_program_says_what_is_missing) {
  SyncFixture f;
  GitClone person = f.Person();
  person.Write("config/seed.txt", "seed\n");
  BOOST_REQUIRE(person.CommitAndPush("seed"));
  f.Sync();
  f.WriteLocal("local.txt", "pushed once git is back\n");
  std::string path = std::getenv("PATH");
  ::setenv("PATH", (f.dir / "no-git-here").c_str(), 1);
  Status failed = f.SyncStatus();
  ::setenv("PATH", path.c_str(), 1);
  BOOST_TEST(!failed.ok());
  BOOST_TEST(failed.message().find("cannot run git receive-pack for " + f.remote +
                                   " (a file:// remote needs the git program)") != std::string::npos,
             failed.message());
  f.Sync();
  BOOST_TEST(f.Remote("config/local.txt") == "pushed once git is back\n");
}

BOOST_AUTO_TEST_SUITE_END()
