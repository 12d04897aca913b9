// One reconcile pass against a real Git remote (file://): what a user sees in the folder and
// on the branch after local edits, remote pushes, merges and conflicts.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <set>

#include "tests/sync/sync_test_util.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
namespace fs = std::filesystem;

namespace {

// Remote with config/a.yaml, config/b.txt and an unrelated file outside the synced folder.
struct SeededFixture : SyncFixture {
  SeededFixture() {
    GitClone p = Person("seed");
    p.Write("config/a.yaml", "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\n");
    p.Write("config/b.txt", "bee\n");
    p.Write("README.md", "outside the synced folder\n");
    BOOST_REQUIRE(p.CommitAndPush("seed"));
    Sync();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(sync_pass)

BOOST_FIXTURE_TEST_CASE(first_sync_brings_the_remote_folder_into_an_empty_local_folder, SeededFixture) {
  BOOST_TEST(Local("a.yaml") == "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\n");
  BOOST_TEST(Local("b.txt") == "bee\n");
  BOOST_TEST(!LocalExists("README.md"));
  BOOST_TEST(State().last_synced_commit.size() == 40u);
  BOOST_TEST(State().last_error == "");
}

BOOST_FIXTURE_TEST_CASE(local_edit_is_committed_with_the_configured_author_and_pushed, SeededFixture) {
  WriteLocal("b.txt", "buzz\n");
  WriteLocal("new/c.yaml", "x: 1\n");
  PassOutcome o = Sync();
  BOOST_TEST(o.summary.find("pushed 2 changes") == 0u, o.summary);
  BOOST_TEST(Remote("config/b.txt") == "buzz\n");
  BOOST_TEST(Remote("config/new/c.yaml") == "x: 1\n");
  BOOST_TEST(Remote("README.md") == "outside the synced folder\n");
  BOOST_TEST(LogFormat(remote, "main", "%an <%ae>|%cn") == "Sync Bot <bot@example.com>|Sync Bot\n");
  BOOST_TEST(LogFormat(remote, "main", "%B") == "gitsyncd app: b.txt and new/c.yaml\n\nM config/b.txt\nA config/new/c.yaml\n\n");
  BOOST_TEST(State().pending_local_changes == 0u);
}

BOOST_FIXTURE_TEST_CASE(remote_push_reaches_the_folder_and_deletions_apply_both_ways, SeededFixture) {
  GitClone p = Person();
  p.Write("config/a.yaml", "a: 10\nb: 2\nc: 3\nd: 4\ne: 5\n");
  p.Remove("config/b.txt");
  BOOST_REQUIRE(p.CommitAndPush("remote edit"));
  Sync();
  BOOST_TEST(Local("a.yaml") == "a: 10\nb: 2\nc: 3\nd: 4\ne: 5\n");
  BOOST_TEST(!LocalExists("b.txt"));

  fs::remove(local + "/a.yaml");
  Sync();
  BOOST_TEST(!RemoteHas("config/a.yaml"));
  BOOST_TEST(RemoteHas("README.md"));
}

BOOST_FIXTURE_TEST_CASE(nothing_changed_is_a_cheap_no_op, SeededFixture) {
  std::string before = State().last_synced_commit;
  PassOutcome o = Sync();
  BOOST_TEST(o.summary == "in sync");
  BOOST_TEST(State().last_synced_commit == before);
  auto local_only = RunSyncPass(spec, /*local_trigger_only=*/true);
  BOOST_REQUIRE(local_only.ok());
  BOOST_TEST(!local_only->contacted_remote);
}

BOOST_FIXTURE_TEST_CASE(edits_on_both_sides_to_different_files_are_merged, SeededFixture) {
  GitClone p = Person();
  p.Write("config/remote.txt", "from remote\n");
  BOOST_REQUIRE(p.CommitAndPush("remote adds a file"));
  WriteLocal("local.txt", "from local\n");
  Sync();
  BOOST_TEST(Local("remote.txt") == "from remote\n");
  BOOST_TEST(Remote("config/local.txt") == "from local\n");
  BOOST_TEST(Remote("config/remote.txt") == "from remote\n");
  // The merge commit has the remote head and the local commit as parents.
  BOOST_TEST(LogFormat(remote, "main", "%P").size() == 82u);
}

BOOST_FIXTURE_TEST_CASE(same_file_different_lines_merge_at_line_level, SeededFixture) {
  GitClone p = Person();
  p.Write("config/a.yaml", "a: 1\nb: 2\nc: 3\nd: 4\ne: 50\n");
  BOOST_REQUIRE(p.CommitAndPush("remote changes e"));
  WriteLocal("a.yaml", "a: 100\nb: 2\nc: 3\nd: 4\ne: 5\n");
  Sync();
  BOOST_TEST(Local("a.yaml") == "a: 100\nb: 2\nc: 3\nd: 4\ne: 50\n");
  BOOST_TEST(Remote("config/a.yaml") == "a: 100\nb: 2\nc: 3\nd: 4\ne: 50\n");
  BOOST_TEST(State().conflicts.empty());
}

BOOST_FIXTURE_TEST_CASE(true_conflict_keep_both_keeps_remote_in_folder_and_local_on_a_branch, SeededFixture) {
  GitClone p = Person();
  p.Write("config/a.yaml", "a: remote\nb: 2\nc: 3\nd: 4\ne: 5\n");
  BOOST_REQUIRE(p.CommitAndPush("remote"));
  WriteLocal("a.yaml", "a: local\nb: 2\nc: 3\nd: 4\ne: 5\n");
  WriteLocal("only-local.txt", "kept\n");
  PassOutcome o = Sync();
  BOOST_TEST(o.summary.find("conflict in 1 file (keep-both); the local version is on branch gitsyncd/conflicts/app/") == 0u,
             o.summary);
  BOOST_TEST(Local("a.yaml") == "a: remote\nb: 2\nc: 3\nd: 4\ne: 5\n");
  BOOST_TEST(Remote("config/a.yaml") == "a: remote\nb: 2\nc: 3\nd: 4\ne: 5\n");
  BOOST_TEST(Remote("config/only-local.txt") == "kept\n");
  auto state = State();
  BOOST_REQUIRE_EQUAL(state.conflicts.size(), 1u);
  BOOST_TEST(!state.conflicts[0].resolved);
  BOOST_TEST((state.conflicts[0].files == std::vector<std::string>{"a.yaml"}));
  BOOST_TEST(Remote("config/a.yaml", state.conflicts[0].branch) == "a: local\nb: 2\nc: 3\nd: 4\ne: 5\n");
}

// Conflicts come in bursts (an editor and a deploy racing): three in a row, well within a
// second or two, each get a branch of their own, and no pass fails on a name the previous
// conflict took (the branch name once had only the second in it).
BOOST_FIXTURE_TEST_CASE(conflicts_in_the_same_second_each_get_their_own_branch, SeededFixture) {
  GitClone p = Person();
  std::set<std::string> branches;
  for (int i = 0; i < 3; ++i) {
    std::string n = std::to_string(i);
    p.Write("config/a.yaml", "a: remote " + n + "\nb: 2\nc: 3\nd: 4\ne: 5\n");
    BOOST_REQUIRE(p.CommitAndPush("remote " + n));
    WriteLocal("a.yaml", "a: local " + n + "\nb: 2\nc: 3\nd: 4\ne: 5\n");
    PassOutcome o = Sync();
    BOOST_TEST(o.summary.find("conflict in 1 file") == 0u, o.summary);
    auto state = State();
    BOOST_REQUIRE_EQUAL(state.conflicts.size(), static_cast<size_t>(i + 1));
    const std::string& branch = state.conflicts.back().branch;
    BOOST_TEST(branches.insert(branch).second, branch);
    BOOST_TEST(Remote("config/a.yaml", branch) == "a: local " + n + "\nb: 2\nc: 3\nd: 4\ne: 5\n");
  }
}

BOOST_FIXTURE_TEST_CASE(true_conflict_prefer_local_pushes_local_and_keeps_remote_on_a_branch, SeededFixture) {
  spec.on_conflict = ConflictPolicy::kPreferLocal;
  GitClone p = Person();
  p.Write("config/a.yaml", "a: remote\nb: 2\nc: 3\nd: 4\ne: 5\n");
  BOOST_REQUIRE(p.CommitAndPush("remote"));
  WriteLocal("a.yaml", "a: local\nb: 2\nc: 3\nd: 4\ne: 5\n");
  Sync();
  BOOST_TEST(Local("a.yaml") == "a: local\nb: 2\nc: 3\nd: 4\ne: 5\n");
  BOOST_TEST(Remote("config/a.yaml") == "a: local\nb: 2\nc: 3\nd: 4\ne: 5\n");
  auto state = State();
  BOOST_REQUIRE_EQUAL(state.conflicts.size(), 1u);
  BOOST_TEST(state.conflicts[0].resolved);
  BOOST_TEST(Remote("config/a.yaml", state.conflicts[0].branch) == "a: remote\nb: 2\nc: 3\nd: 4\ne: 5\n");
}

BOOST_FIXTURE_TEST_CASE(true_conflict_prefer_remote_keeps_local_on_a_branch, SeededFixture) {
  spec.on_conflict = ConflictPolicy::kPreferRemote;
  GitClone p = Person();
  p.Write("config/a.yaml", "a: remote\nb: 2\nc: 3\nd: 4\ne: 5\n");
  BOOST_REQUIRE(p.CommitAndPush("remote"));
  WriteLocal("a.yaml", "a: local\nb: 2\nc: 3\nd: 4\ne: 5\n");
  Sync();
  BOOST_TEST(Local("a.yaml") == "a: remote\nb: 2\nc: 3\nd: 4\ne: 5\n");
  auto state = State();
  BOOST_REQUIRE_EQUAL(state.conflicts.size(), 1u);
  BOOST_TEST(state.conflicts[0].resolved);
  BOOST_TEST(Remote("config/a.yaml", state.conflicts[0].branch) == "a: local\nb: 2\nc: 3\nd: 4\ne: 5\n");
}

BOOST_FIXTURE_TEST_CASE(invalid_local_yaml_is_not_pushed_until_fixed, SeededFixture) {
  std::string head = Git({"--git-dir", remote, "rev-parse", "main"}).out;
  WriteLocal("a.yaml", "a: 1\nb: [unclosed\n");
  Status s = SyncStatus();
  BOOST_TEST(s.message().find("local file a.yaml:3:1: invalid YAML: ") == 0u, s.message());
  BOOST_TEST(s.message().ends_with("; waiting for a fix"));
  BOOST_TEST(Git({"--git-dir", remote, "rev-parse", "main"}).out == head);
  BOOST_TEST(State().last_error == s.message());
  WriteLocal("a.yaml", "a: 1\nb: [closed]\n");
  Sync();
  BOOST_TEST(Remote("config/a.yaml") == "a: 1\nb: [closed]\n");
  BOOST_TEST(State().last_error == "");
}

BOOST_FIXTURE_TEST_CASE(invalid_remote_yaml_is_not_applied, SeededFixture) {
  GitClone p = Person();
  p.Write("config/a.yaml", "a: [1, 2\n");
  BOOST_REQUIRE(p.CommitAndPush("broken"));
  Status s = SyncStatus();
  BOOST_TEST(s.message().find("remote file a.yaml:") == 0u, s.message());
  BOOST_TEST(Local("a.yaml") == "a: 1\nb: 2\nc: 3\nd: 4\ne: 5\n");
}

BOOST_FIXTURE_TEST_CASE(symlinks_and_git_entries_are_reported_not_synced, SeededFixture) {
  BOOST_REQUIRE(::symlink("/etc/passwd", (local + "/passwd-link").c_str()) == 0);
  WriteLocal(".git/config", "[core]\n");
  WriteLocal("real.txt", "real\n");
  Sync();
  BOOST_TEST(!RemoteHas("config/passwd-link"));
  BOOST_TEST(!RemoteHas("config/.git/config"));
  BOOST_TEST(Remote("config/real.txt") == "real\n");
  auto warnings = State().warnings;
  BOOST_TEST((std::find(warnings.begin(), warnings.end(),
                        "symlink passwd-link: not synced (links are never followed)") != warnings.end()));
  BOOST_TEST((std::find(warnings.begin(), warnings.end(), ".git entry .git: not synced") != warnings.end()));
}

BOOST_FIXTURE_TEST_CASE(remote_symlink_is_neither_written_nor_deleted, SeededFixture) {
  GitClone p = Person();
  BOOST_REQUIRE(::symlink("/etc/passwd", (p.dir() + "/config/link").c_str()) == 0);
  BOOST_REQUIRE(p.CommitAndPush("remote symlink"));
  Sync();
  struct stat st{};
  BOOST_TEST(::lstat((local + "/link").c_str(), &st) != 0);
  WriteLocal("b.txt", "changed\n");
  Sync();
  BOOST_TEST(RemoteHas("config/link"));  // still in the repository after our push
  BOOST_TEST(Remote("config/b.txt") == "changed\n");
}

BOOST_FIXTURE_TEST_CASE(push_direction_never_writes_the_folder, SeededFixture) {
  spec.direction = SyncDirection::kPush;
  GitClone p = Person();
  p.Write("config/remote-only.txt", "r\n");
  BOOST_REQUIRE(p.CommitAndPush("remote"));
  WriteLocal("b.txt", "local wins\n");
  Sync();
  BOOST_TEST(!LocalExists("remote-only.txt"));
  BOOST_TEST(Remote("config/b.txt") == "local wins\n");
}

// Pulled files are readable by the services that use them whatever the daemon's umask (the unit
// runs with UMask=0077): file_mode/dir_mode, Git's executable bit, and the sync's group.
BOOST_FIXTURE_TEST_CASE(pulled_files_get_the_configured_modes_and_group_whatever_the_umask, SyncFixture) {
  GitClone p = Person("seed");
  p.Write("config/nginx/site.conf", "server {}\n");
  p.Write("config/reload.sh", "#!/bin/sh\n");
  BOOST_REQUIRE(::chmod((dir / "seed/config/reload.sh").c_str(), 0755) == 0);
  BOOST_REQUIRE(p.CommitAndPush("seed"));
  spec.ownership = FolderOwnership{0640, 0750, ::geteuid() == 0 ? 65534 : -1};
  mode_t old = ::umask(077);
  Sync();
  ::umask(old);
  auto mode_of = [&](const std::string& rel) {
    struct stat st{};
    BOOST_REQUIRE(::stat((local + "/" + rel).c_str(), &st) == 0);
    return st;
  };
  BOOST_TEST((mode_of("nginx/site.conf").st_mode & 07777) == 0640u);
  BOOST_TEST((mode_of("reload.sh").st_mode & 07777) == 0750u);  // x where file_mode has r
  BOOST_TEST((mode_of("nginx").st_mode & 07777) == 0750u);
  if (::geteuid() == 0) {
    BOOST_TEST(mode_of("nginx/site.conf").st_gid == 65534u);
    BOOST_TEST(mode_of("nginx").st_gid == 65534u);
  }
  // A later pull replacing the file keeps the configured mode too.
  p.Write("config/nginx/site.conf", "server { listen 80; }\n");
  BOOST_REQUIRE(p.CommitAndPush("edit"));
  old = ::umask(077);
  Sync();
  ::umask(old);
  BOOST_TEST((mode_of("nginx/site.conf").st_mode & 07777) == 0640u);
}

// A push binding started on an empty (or not yet filled) folder must not empty the branch.
BOOST_FIXTURE_TEST_CASE(first_push_sync_of_an_empty_folder_deletes_nothing_on_the_branch, SyncFixture) {
  GitClone p = Person("seed");
  p.Write("config/rules.yaml", "rules: []\n");
  BOOST_REQUIRE(p.CommitAndPush("seed"));
  spec.direction = SyncDirection::kPush;
  Status s = SyncStatus();
  BOOST_TEST(!s.ok());
  BOOST_TEST(s.message().find("is empty on the first sync of this push binding") != std::string::npos, s.message());
  BOOST_TEST(Remote("config/rules.yaml") == "rules: []\n");
  BOOST_TEST(State().last_error.find("refusing to push their deletion") != std::string::npos);
  // Once the folder holds the files, the binding pushes as usual.
  WriteLocal("rules.yaml", "rules: [a]\n");
  Sync();
  BOOST_TEST(Remote("config/rules.yaml") == "rules: [a]\n");
}

BOOST_FIXTURE_TEST_CASE(pull_direction_never_pushes_and_keeps_local_edits, SeededFixture) {
  spec.direction = SyncDirection::kPull;
  WriteLocal("b.txt", "local edit\n");
  GitClone p = Person();
  p.Write("config/a.yaml", "a: 9\n");
  BOOST_REQUIRE(p.CommitAndPush("remote"));
  Sync();
  BOOST_TEST(Local("a.yaml") == "a: 9\n");
  BOOST_TEST(Local("b.txt") == "local edit\n");
  BOOST_TEST(Remote("config/b.txt") == "bee\n");
}

BOOST_FIXTURE_TEST_CASE(deleted_remote_branch_never_deletes_the_folder, SeededFixture) {
  Git({"--git-dir", remote, "update-ref", "-d", "refs/heads/main"});
  Status s = SyncStatus();
  BOOST_TEST(s.message() == "branch main no longer exists on file://" + remote +
                                ": the local folder is kept as it is and nothing is pushed, local edits included, "
                                "until the branch exists again (re-create it, or point the sync at another branch)");
  BOOST_TEST(Local("b.txt") == "bee\n");
}

BOOST_AUTO_TEST_CASE(first_sync_of_a_local_folder_into_an_empty_remote_creates_the_branch) {
  SyncFixture f("");
  f.WriteLocal("x.yaml", "x: 1\n");
  f.Sync();
  BOOST_TEST(f.Remote("x.yaml") == "x: 1\n");
}

BOOST_FIXTURE_TEST_CASE(unreachable_remote_is_an_unavailable_error_recorded_in_state, SeededFixture) {
  spec.remote.url = "https://127.0.0.1:1/nothing.git";
  WriteLocal("b.txt", "queued edit\n");
  Status s = SyncStatus();
  BOOST_TEST((s.code() == Status::Code::kUnavailable), s.message());
  BOOST_TEST(State().consecutive_failures == 1u);
  BOOST_TEST(Local("b.txt") == "queued edit\n");
}

BOOST_AUTO_TEST_SUITE_END()

namespace {
// A folder two levels deep, with siblings at every level that the sync must never touch.
struct NestedFixture : SyncFixture {
  NestedFixture() : SyncFixture("apps/web") {
    GitClone p = Person("seed");
    p.Write("apps/web/app.yaml", "replicas: 1\n");
    p.Write("apps/web/sub/deep.yaml", "deep: true\n");
    p.Write("apps/api/app.yaml", "replicas: 9\n");
    p.Write("apps/web-old/app.yaml", "old: true\n");
    p.Write("top.txt", "top\n");
    BOOST_REQUIRE(p.CommitAndPush("seed"));
    Sync();
  }
  std::string Remote(const std::string& path) { return ShowFile(remote, "main", path); }
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(a_nested_folder_is_replaced_without_touching_its_siblings, NestedFixture) {
  BOOST_TEST(Local("app.yaml") == "replicas: 1\n");
  BOOST_TEST(Local("sub/deep.yaml") == "deep: true\n");
  WriteLocal("app.yaml", "replicas: 2\n");
  WriteLocal("new/file.yaml", "new: 1\n");
  fs::remove(local + "/sub/deep.yaml");
  Sync();
  BOOST_TEST(Remote("apps/web/app.yaml") == "replicas: 2\n");
  BOOST_TEST(Remote("apps/web/new/file.yaml") == "new: 1\n");
  bool found = true;
  ShowFile(remote, "main", "apps/web/sub/deep.yaml", &found);
  BOOST_TEST(!found);
  BOOST_TEST(Remote("apps/api/app.yaml") == "replicas: 9\n");
  BOOST_TEST(Remote("apps/web-old/app.yaml") == "old: true\n");
  BOOST_TEST(Remote("top.txt") == "top\n");
  // Emptying the folder removes it from the branch, and nothing else.
  fs::remove(local + "/app.yaml");
  fs::remove_all(local + "/new");
  Sync();
  ShowFile(remote, "main", "apps/web/app.yaml", &found);
  BOOST_TEST(!found);
  BOOST_TEST(Remote("apps/api/app.yaml") == "replicas: 9\n");
  BOOST_TEST(Remote("top.txt") == "top\n");
}

BOOST_AUTO_TEST_CASE(a_nested_folder_that_does_not_exist_yet_is_created_on_the_branch) {
  SyncFixture f("team/new/config");
  GitClone p = f.Person("seed");
  p.Write("other.txt", "x\n");
  BOOST_REQUIRE(p.CommitAndPush("seed"));
  f.WriteLocal("c.yaml", "c: 1\n");
  f.Sync();
  BOOST_TEST(ShowFile(f.remote, "main", "team/new/config/c.yaml") == "c: 1\n");
  BOOST_TEST(ShowFile(f.remote, "main", "other.txt") == "x\n");
}

// The same in the remote's shared store, which every fetch writes (its head under
// refs/remotes/): a lock a killed daemon left there is removed when the next run first opens
// the store (the chaos test hit this: every later fetch failed to record the head).
BOOST_FIXTURE_TEST_CASE(a_stale_lock_in_the_shared_store_from_a_crash_does_not_block_later_fetches, SyncFixture) {
  spec.shared_store = dir / "store";
  GitClone p = Person();
  p.Write("config/a.yaml", "a: 1\n");
  BOOST_REQUIRE(p.CommitAndPush("seed"));
  pid_t child = ::fork();  // the first run, in a process of its own that then ends
  BOOST_REQUIRE(child >= 0);
  if (child == 0) ::_exit(RunSyncPass(spec).ok() ? 0 : 1);
  int status = 0;
  ::waitpid(child, &status, 0);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::string store = spec.shared_store;
  BOOST_REQUIRE(FileExists(store + "/refs/remotes/origin/main"));
  std::vector<std::string> locks = {store + "/refs/remotes/origin/main.lock", store + "/packed-refs.lock",
                                    store + "/config.lock"};
  for (const auto& l : locks) WriteFile(l, "");
  p.Write("config/a.yaml", "a: 2\n");
  BOOST_REQUIRE(p.CommitAndPush("remote edit"));
  Sync();
  BOOST_TEST(Local("a.yaml") == "a: 2\n");
  for (const auto& l : locks) BOOST_TEST(!FileExists(l), l);
}

// A kill -9 while libgit2 wrote a ref leaves "<ref>.lock" behind; the next pass must not be
// stuck behind it (the crash test hit this: every later fetch failed to record the head).
BOOST_FIXTURE_TEST_CASE(a_stale_ref_lock_from_a_crash_does_not_block_later_passes, SeededFixture) {
  std::string repo = spec.binding_dir + "/repo";
  std::vector<std::string> locks = {repo + "/refs/remotes/origin/main.lock", repo + "/HEAD.lock",
                                    repo + "/packed-refs.lock"};
  for (const auto& l : locks) WriteFile(l, "");
  GitClone p = Person("other");
  p.Write("config/new.yaml", "new: 1\n");
  BOOST_REQUIRE(p.CommitAndPush("remote edit"));
  WriteLocal("local.yaml", "local: 1\n");
  Sync();
  BOOST_TEST(Local("new.yaml") == "new: 1\n");
  BOOST_TEST(ShowFile(remote, "main", "config/local.yaml") == "local: 1\n");
  for (const auto& l : locks) BOOST_TEST(!FileExists(l), l);
}
