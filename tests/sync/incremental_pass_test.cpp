// Passes that look only where the folder watcher saw changes (PassOptions::changed_paths):
// the same result on the branch and in the folder as a full scan, at the cost of the change,
// and a fall back to the full scan for everything they cannot decide alone.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>

#include "tests/sync/sync_test_util.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;
namespace fs = std::filesystem;

namespace {

struct HintedFixture : SyncFixture {
  HintedFixture() {
    GitClone p = Person("seed");
    p.Write("config/a.yaml", "a: 1\nb: 2\nc: 3\n");
    p.Write("config/b.txt", "bee\n");
    p.Write("config/sub/c.txt", "sea\n");
    p.Write("README.md", "outside the synced folder\n");
    BOOST_REQUIRE(p.CommitAndPush("seed"));
    Sync();
  }

  PassOutcome Hinted(std::set<std::string> paths, bool local_trigger_only = false) {
    auto r = RunSyncPass(spec, PassOptions{local_trigger_only, &paths});
    BOOST_REQUIRE_MESSAGE(r.ok(), "sync pass failed: " + r.status().message());
    return *r;
  }

  std::string Tree(const std::string& rev = "main") {
    return Git({"--git-dir", remote, "ls-tree", "-r", "-t", "--name-only", rev}, "", {}, true).out;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(incremental_pass, HintedFixture)

BOOST_AUTO_TEST_CASE(a_hinted_local_edit_is_pushed_with_the_author_and_the_path_in_the_message) {
  WriteLocal("b.txt", "buzz\n");
  PassOutcome o = Hinted({"b.txt"}, /*local_trigger_only=*/true);
  BOOST_TEST(o.incremental);
  BOOST_TEST(o.folder_in_step);
  BOOST_TEST(o.summary.find("pushed 1 change") == 0u, o.summary);
  BOOST_TEST(Remote("config/b.txt") == "buzz\n");
  BOOST_TEST(Remote("README.md") == "outside the synced folder\n");
  BOOST_TEST(Remote("config/sub/c.txt") == "sea\n");
  BOOST_TEST(LogFormat(remote, "main", "%an <%ae>") == "Sync Bot <bot@example.com>\n");
  BOOST_TEST(LogFormat(remote, "main", "%B") == "gitsyncd app: b.txt\n\nM config/b.txt\n\n");
  // The next full scan agrees: nothing left to push.
  BOOST_TEST(Sync().summary == "in sync");
}

BOOST_AUTO_TEST_CASE(a_hinted_path_that_did_not_change_costs_no_network) {
  WriteLocal("b.txt", "bee\n");  // rewritten with the same content: inotify still reports it
  PassOutcome o = Hinted({"b.txt"}, true);
  BOOST_TEST(o.incremental);
  BOOST_TEST(!o.contacted_remote);
  BOOST_TEST(o.summary == "in sync");
}

BOOST_AUTO_TEST_CASE(a_hinted_new_folder_is_read_whole) {
  WriteLocal("new/deep/x.yaml", "x: 1\n");
  WriteLocal("new/y.txt", "why\n");
  // The watcher reports the folder it saw created; files written before its watch was added
  // raise no event of their own.
  PassOutcome o = Hinted({"new"}, true);
  BOOST_TEST(o.incremental);
  BOOST_TEST(Remote("config/new/deep/x.yaml") == "x: 1\n");
  BOOST_TEST(Remote("config/new/y.txt") == "why\n");
  BOOST_TEST(LogFormat(remote, "main", "%B") == "gitsyncd app: new/deep/x.yaml and new/y.txt\n\nA config/new/deep/x.yaml\nA config/new/y.txt\n\n");
}

BOOST_AUTO_TEST_CASE(hinted_deletions_remove_files_and_the_folders_they_empty) {
  fs::remove(local + "/b.txt");
  fs::remove_all(local + "/sub");
  PassOutcome o = Hinted({"b.txt", "sub"}, true);
  BOOST_TEST(o.incremental);
  BOOST_TEST(!RemoteHas("config/b.txt"));
  BOOST_TEST(!RemoteHas("config/sub/c.txt"));
  BOOST_TEST(Tree() == "README.md\nconfig\nconfig/a.yaml\n");  // no empty config/sub left behind
  BOOST_TEST(Sync().summary == "in sync");
}

BOOST_AUTO_TEST_CASE(a_remote_push_is_applied_from_the_changed_subtrees) {
  GitClone p = Person();
  p.Write("config/a.yaml", "a: 10\nb: 2\nc: 3\n");
  p.Write("config/sub/more/d.txt", "dee\n");
  p.Remove("config/b.txt");
  p.Write("README.md", "changed outside the folder\n");
  BOOST_REQUIRE(p.CommitAndPush("remote edit"));
  PassOutcome o = Hinted({});
  BOOST_TEST(o.incremental);
  BOOST_TEST(o.folder_in_step);
  BOOST_TEST(o.summary == "pulled: 2 files written, 1 deleted", o.summary);
  BOOST_TEST(Local("a.yaml") == "a: 10\nb: 2\nc: 3\n");
  BOOST_TEST(Local("sub/more/d.txt") == "dee\n");
  BOOST_TEST(!LocalExists("b.txt"));
  BOOST_TEST(!LocalExists("README.md"));
  BOOST_TEST(State().last_synced_commit == LogFormat(remote, "main", "%H").substr(0, 40));
  BOOST_TEST(Sync().summary == "in sync");
}

// direction: pull (a deploy target): a remote push costs the changed paths, as above.
BOOST_AUTO_TEST_CASE(a_pull_bindings_remote_push_is_applied_from_the_changed_subtrees) {
  spec.direction = SyncDirection::kPull;
  GitClone p = Person();
  p.Write("config/a.yaml", "a: 10\nb: 2\nc: 3\n");
  p.Remove("config/sub/c.txt");
  BOOST_REQUIRE(p.CommitAndPush("remote edit"));
  PassOutcome o = Hinted({});
  BOOST_TEST(o.incremental);
  BOOST_TEST(o.folder_in_step);
  BOOST_TEST(o.summary == "pulled: 1 file written, 1 deleted", o.summary);
  BOOST_TEST(Local("a.yaml") == "a: 10\nb: 2\nc: 3\n");
  BOOST_TEST(!LocalExists("sub"));
  BOOST_TEST(State().last_synced_commit == LogFormat(remote, "main", "%H").substr(0, 40));
  BOOST_TEST(Sync().summary == "in sync");
}

// direction: pull never pushes: a local edit the watcher reported goes to the full pass, which
// keeps it in the folder (with a warning) and still pulls the remote's other changes.
BOOST_AUTO_TEST_CASE(a_pull_bindings_local_edit_falls_back_and_is_kept_not_pushed) {
  spec.direction = SyncDirection::kPull;
  WriteLocal("b.txt", "local bee\n");
  GitClone p = Person();
  p.Write("config/a.yaml", "a: 10\nb: 2\nc: 3\n");
  BOOST_REQUIRE(p.CommitAndPush("remote edit"));
  PassOutcome o = Hinted({"b.txt"});
  BOOST_TEST(!o.incremental);
  BOOST_TEST(!o.folder_in_step);
  BOOST_TEST(Local("a.yaml") == "a: 10\nb: 2\nc: 3\n");
  BOOST_TEST(Local("b.txt") == "local bee\n");
  BOOST_TEST(Remote("config/b.txt") == "bee\n");
  PassOutcome again = Hinted({"b.txt"}, /*local_trigger_only=*/true);
  BOOST_TEST(!again.incremental);
  BOOST_TEST(Remote("config/b.txt") == "bee\n");
  BOOST_TEST(Local("b.txt") == "local bee\n");
}

BOOST_AUTO_TEST_CASE(an_edit_the_watcher_has_not_reported_yet_is_merged_not_overwritten) {
  // The local edit is still in the watcher's debounce when a webhook starts a pass.
  WriteLocal("a.yaml", "a: local\nb: 2\nc: 3\n");
  GitClone p = Person();
  p.Write("config/a.yaml", "a: remote\nb: 2\nc: 3\n");
  BOOST_REQUIRE(p.CommitAndPush("remote edit"));
  PassOutcome o = Hinted({});
  // The pass found the changed file edited locally too and merged in full: a true conflict,
  // the remote version in the folder and the local one on a conflict branch.
  BOOST_TEST(!o.incremental);
  BOOST_TEST(o.summary.find("conflict") == 0u, o.summary);
  BOOST_TEST(Local("a.yaml") == "a: remote\nb: 2\nc: 3\n");
  BOOST_REQUIRE(State().conflicts.size() == 1u);
  BOOST_TEST(Remote("config/a.yaml", State().conflicts[0].branch) == "a: local\nb: 2\nc: 3\n");
}

BOOST_AUTO_TEST_CASE(both_sides_changed_falls_back_to_the_full_pass_and_merges) {
  WriteLocal("b.txt", "local bee\n");
  GitClone p = Person();
  p.Write("config/a.yaml", "a: remote\nb: 2\nc: 3\n");
  BOOST_REQUIRE(p.CommitAndPush("remote edit"));
  PassOutcome o = Hinted({"b.txt"});
  BOOST_TEST(!o.incremental);
  BOOST_TEST(o.summary == "merged local and remote changes", o.summary);
  BOOST_TEST(Local("a.yaml") == "a: remote\nb: 2\nc: 3\n");
  BOOST_TEST(Remote("config/b.txt") == "local bee\n");
  BOOST_TEST(Remote("config/a.yaml") == "a: remote\nb: 2\nc: 3\n");
}

BOOST_AUTO_TEST_CASE(a_moved_remote_branch_rejects_the_push_then_merges) {
  WriteLocal("b.txt", "local bee\n");
  GitClone p = Person();
  p.Write("config/sub/c.txt", "remote sea\n");
  BOOST_REQUIRE(p.CommitAndPush("remote edit"));
  PassOutcome o = Hinted({"b.txt"}, /*local_trigger_only=*/true);  // optimistic push is refused
  BOOST_TEST(Remote("config/b.txt") == "local bee\n");
  BOOST_TEST(Remote("config/sub/c.txt") == "remote sea\n");
  BOOST_TEST(Local("sub/c.txt") == "remote sea\n");
  BOOST_TEST(o.summary == "merged local and remote changes", o.summary);
}

BOOST_AUTO_TEST_CASE(a_hinted_symlink_falls_back_to_the_full_scan_that_reports_it) {
  BOOST_REQUIRE(::symlink("/etc/passwd", (local + "/link").c_str()) == 0);
  WriteLocal("b.txt", "buzz\n");
  PassOutcome o = Hinted({"link", "b.txt"}, true);
  BOOST_TEST(!o.incremental);
  BOOST_TEST(Remote("config/b.txt") == "buzz\n");
  BOOST_TEST(!RemoteHas("config/link"));
  bool reported = false;
  for (const auto& w : State().warnings) reported = reported || w.find("symlink link") != std::string::npos;
  BOOST_TEST(reported);
}

BOOST_AUTO_TEST_CASE(a_file_turned_into_a_folder_falls_back_and_lands) {
  fs::remove(local + "/b.txt");
  WriteLocal("b.txt/inside.txt", "now a folder\n");
  PassOutcome o = Hinted({"b.txt"}, true);
  BOOST_TEST(!o.incremental);
  BOOST_TEST(Remote("config/b.txt/inside.txt") == "now a folder\n");
}

BOOST_AUTO_TEST_CASE(invalid_yaml_in_a_hinted_file_is_not_pushed) {
  WriteLocal("a.yaml", "a: [1, 2\n");
  auto paths = std::set<std::string>{"a.yaml"};
  auto r = RunSyncPass(spec, PassOptions{true, &paths});
  BOOST_TEST(!r.ok());
  BOOST_TEST(r.status().message().find("local file a.yaml:2") != std::string::npos, r.status().message());
  BOOST_TEST(Remote("config/a.yaml") == "a: 1\nb: 2\nc: 3\n");
}

BOOST_AUTO_TEST_CASE(hints_that_would_leave_the_folder_are_refused_by_falling_back) {
  WriteLocal("b.txt", "buzz\n");
  PassOutcome o = Hinted({"../outside", "b.txt"}, true);
  BOOST_TEST(!o.incremental);
  BOOST_TEST(Remote("config/b.txt") == "buzz\n");
}

BOOST_AUTO_TEST_CASE(a_pushed_commit_is_stored_in_the_repository_before_the_pass_ends) {
  WriteLocal("b.txt", "buzz\n");
  PassOutcome o = Hinted({"b.txt"}, true);
  BOOST_TEST(o.incremental);
  // The commit the state names is on disk (it was kept in memory until after the push).
  std::string repo = spec.binding_dir + "/repo";
  auto cat = Git({"--git-dir", repo, "cat-file", "-t", State().last_synced_commit}, "", {}, true);
  BOOST_TEST(cat.out == "commit\n");
  auto fsck = Git({"--git-dir", repo, "fsck", "--no-dangling"}, "", {}, true);
  BOOST_TEST(fsck.exit_code == 0, fsck.out + fsck.err);
  // Stored as loose objects: the commit, its root tree, the folder's tree and the blob.
  for (const char* type : {"commit", "tree", "blob"}) {
    auto obj = Git({"--git-dir", repo, "rev-parse", State().last_synced_commit + (std::string(type) == "commit" ? "" :
                    std::string(type) == "tree" ? "^{tree}" : ":config/b.txt")}, "", {}, true);
    std::string hex = obj.out.substr(0, 40);
    BOOST_TEST(FileExists(repo + "/objects/" + hex.substr(0, 2) + "/" + hex.substr(2)), type);
  }
}

BOOST_AUTO_TEST_CASE(a_ref_left_dangling_by_a_kill_between_push_and_store_is_removed) {
  // What a kill -9 after a push and before the pass stored its objects leaves behind.
  std::string repo = spec.binding_dir + "/repo";
  WriteFile(repo + "/refs/gitsyncd/push/0", "0123456789012345678901234567890123456789\n");
  WriteLocal("b.txt", "after the crash\n");
  Sync();
  BOOST_TEST(Remote("config/b.txt") == "after the crash\n");
  bool gone = !FileExists(repo + "/refs/gitsyncd/push/0") ||
              ReadFile(repo + "/refs/gitsyncd/push/0") != "0123456789012345678901234567890123456789\n";
  BOOST_TEST(gone);
  auto fsck = Git({"--git-dir", repo, "fsck", "--no-dangling"}, "", {}, true);
  BOOST_TEST(fsck.exit_code == 0, fsck.out + fsck.err);
}

BOOST_AUTO_TEST_SUITE_END()
