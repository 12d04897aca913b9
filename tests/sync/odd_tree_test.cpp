// Odd but legal things on either side: files over max_file_size, a deleted branch, a file
// turned into a folder, a case-only rename, remote symlinks and submodules, a huge YAML file.
// Each case runs against a file:// remote and the nginx HTTPS server.
#include <boost/test/unit_test.hpp>

#include <sys/resource.h>

#include "tests/sync/remote_fixture.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

constexpr uint64_t kCap = 64 * 1024;  // max_file_size in these tests

std::string Bytes(size_t n, char c) { return std::string(n, c); }

bool Warned(Binding& r, const std::string& what) {
  for (const auto& w : r.State().warnings) {
    if (w.find(what) != std::string::npos) return true;
  }
  return false;
}

struct Seeded : Binding {
  explicit Seeded(Served served) : Binding(served) {
    spec.max_file_size = kCap;
    person->Write("config/app.yaml", "a: 1\n");
    person->Write("config/notes/b.txt", "bee\n");
    BOOST_REQUIRE(person->CommitAndPush("seed"));
    Sync();
  }
  // Everything the person has, committed and pushed; the clone is brought up to date first.
  void PersonPushes(const std::string& message) {
    person->Pull();
    BOOST_REQUIRE(person->CommitAndPush(message));
  }
  // On the remote, the folder notes/ becomes a file.
  void RemoteTurnsNotesIntoAFile() {
    person->Pull();
    person->Remove("config/notes/b.txt");
    person->Write("config/notes", "now a file\n");
    BOOST_REQUIRE(person->CommitAndPush("folder to file"));
  }
};

// Whether `text` is at `path` on any branch of the remote (main or a conflict branch).
bool OnSomeBranch(Binding& r, const std::string& path, const std::string& text) {
  for (const auto& b : Branches(r.bare)) {
    if (ShowFile(r.bare, b, path) == text) return true;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(odd_trees)

BOOST_AUTO_TEST_CASE(a_remote_file_over_max_file_size_is_skipped_and_never_deleted) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Seeded r(served);
      r.person->Write("config/big.bin", Bytes(kCap + 1, 'x'));
      r.person->Write("config/app.yaml", "a: 2\n");
      r.PersonPushes("big file");
      r.Sync();
      BOOST_TEST(r.Local("app.yaml") == "a: 2\n");
      BOOST_TEST(!r.LocalExists("big.bin"));
      BOOST_TEST(Warned(r, "remote file big.bin is larger than max_file_size"));
      // Local edits, pushed by a full and by an incremental pass, keep the big file.
      r.WriteLocal("notes/b.txt", "edited\n");
      r.Sync();
      r.WriteLocal("app.yaml", "a: 3\n");
      BOOST_REQUIRE(r.IncrementalPass({"app.yaml"}).ok());
      BOOST_TEST(r.Remote("config/app.yaml") == "a: 3\n");
      BOOST_TEST(r.Remote("config/notes/b.txt") == "edited\n");
      BOOST_TEST(r.Remote("config/big.bin").size() == kCap + 1);
      // A local file of that name is not pushed over it either.
      r.WriteLocal("big.bin", "small local\n");
      r.Sync();
      BOOST_TEST(r.Remote("config/big.bin").size() == kCap + 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_local_file_that_grows_past_max_file_size_is_not_pushed_as_a_deletion) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Seeded r(served);
      r.WriteLocal("notes/b.txt", Bytes(kCap + 1, 'y'));
      r.Sync();
      BOOST_TEST(r.Remote("config/notes/b.txt") == "bee\n");
      BOOST_TEST(Warned(r, "notes/b.txt is larger than max_file_size"));
      BOOST_REQUIRE(r.IncrementalPass({"notes/b.txt"}).ok());
      BOOST_TEST(r.Remote("config/notes/b.txt") == "bee\n");
      // A new local file over the cap is not pushed; other edits still are.
      r.WriteLocal("huge.log", Bytes(kCap * 2, 'z'));
      r.WriteLocal("app.yaml", "a: 5\n");
      r.Sync();
      BOOST_TEST(!r.RemoteHas("config/huge.log"));
      BOOST_TEST(r.Remote("config/app.yaml") == "a: 5\n");
      BOOST_TEST(r.Remote("config/notes/b.txt") == "bee\n");
      BOOST_TEST(r.Local("notes/b.txt").size() == kCap + 1);  // never overwritten either
      // Back under the cap: synced again.
      r.WriteLocal("notes/b.txt", "small again\n");
      r.Sync();
      BOOST_TEST(r.Remote("config/notes/b.txt") == "small again\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(a_deleted_branch_is_not_recreated_by_a_local_edit_and_is_followed_when_it_returns) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Seeded r(served);
      Git({"--git-dir", r.bare, "config", "receive.denyDeleteCurrent", "ignore"});
      Git({"push", "--quiet", "origin", ":refs/heads/main"}, r.person->dir(),
          r.server ? r.server->git_env() : std::map<std::string, std::string>{});
      Status s = r.SyncStatus();
      BOOST_TEST(s.message().find("branch main no longer exists") != std::string::npos, s.message());
      BOOST_TEST(s.message().find("nothing is pushed, local edits included, until the branch exists again") !=
                 std::string::npos);
      r.WriteLocal("app.yaml", "a: local\n");
      BOOST_TEST(!RunSyncPass(r.spec, /*local_trigger_only=*/true).ok());
      BOOST_TEST(!r.IncrementalPass({"app.yaml"}).ok());
      BOOST_TEST(Branches(r.bare).empty());
      BOOST_TEST(r.Local("notes/b.txt") == "bee\n");
      // Someone re-creates the branch: the binding follows and pushes the kept edit.
      BOOST_REQUIRE(r.person->CommitAndPush("back"));
      r.Sync();
      BOOST_TEST(r.Remote("config/app.yaml") == "a: local\n");
      BOOST_TEST(r.State().last_error.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_case_only_rename_on_either_side_arrives_as_a_rename) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Seeded r(served);
      r.person->Pull();
      Git({"mv", "config/app.yaml", "config/App.yaml"}, r.person->dir(),
          r.server ? r.server->git_env() : std::map<std::string, std::string>{});
      BOOST_REQUIRE(r.person->CommitAndPush("case rename"));
      r.Sync();
      BOOST_TEST(r.Local("App.yaml") == "a: 1\n");
      BOOST_TEST(!r.LocalExists("app.yaml"));
      std::filesystem::rename(r.local + "/notes/b.txt", r.local + "/notes/B.txt");
      r.Sync();
      BOOST_TEST(r.Remote("config/notes/B.txt") == "bee\n");
      BOOST_TEST(!r.RemoteHas("config/notes/b.txt"));
      BOOST_TEST(r.Remote("config/App.yaml") == "a: 1\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(a_file_turned_folder_on_one_side_and_edited_on_the_other_loses_nothing) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Seeded r(served);
      // Remote: notes/b.txt becomes a folder; local: the file is edited.
      r.person->Pull();
      r.person->Remove("config/notes/b.txt");
      r.person->Write("config/notes/b.txt/inner.txt", "inside\n");
      BOOST_REQUIRE(r.person->CommitAndPush("file to folder"));
      r.WriteLocal("notes/b.txt", "local edit\n");
      auto first = r.SyncStatus();
      // Whatever the pass decides, the local edit is somewhere and the folder is one state.
      auto outcome = RunSyncPass(r.spec);
      BOOST_TEST_MESSAGE("first pass: " << first.ToString());
      bool edit_kept = r.LocalExists("notes/b.txt") && !std::filesystem::is_directory(r.local + "/notes/b.txt") &&
                       r.Local("notes/b.txt") == "local edit\n";
      BOOST_TEST((edit_kept || OnSomeBranch(r, "config/notes/b.txt", "local edit\n")));
      BOOST_TEST(r.Remote("config/notes/b.txt/inner.txt") == "inside\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(a_folder_turned_file_on_the_remote_while_the_local_folder_holds_edits_loses_nothing) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Seeded r(served);
      // Remote: the folder notes/ becomes a file; local: notes/ keeps growing.
      r.RemoteTurnsNotesIntoAFile();
      r.WriteLocal("notes/b.txt", "local edit\n");
      r.WriteLocal("notes/new.txt", "new local\n");
      for (int i = 0; i < 3; ++i) BOOST_TEST_MESSAGE("pass: " << RunSyncPass(r.spec).status().ToString());
      // Both local edits and the remote's file are kept: in the folder or on a branch.
      bool b_kept = std::filesystem::is_regular_file(r.local + "/notes/b.txt") && r.Local("notes/b.txt") == "local edit\n";
      bool new_kept = std::filesystem::is_regular_file(r.local + "/notes/new.txt") && r.Local("notes/new.txt") == "new local\n";
      BOOST_TEST((b_kept || OnSomeBranch(r, "config/notes/b.txt", "local edit\n")));
      BOOST_TEST((new_kept || OnSomeBranch(r, "config/notes/new.txt", "new local\n")));
      bool file_kept = std::filesystem::is_regular_file(r.local + "/notes") && r.Local("notes") == "now a file\n";
      BOOST_TEST((file_kept || OnSomeBranch(r, "config/notes", "now a file\n")));
      // The folder is one side's state, never a mix: notes is the remote's file or the local folder.
      BOOST_TEST((file_kept || (b_kept && new_kept)));
      BOOST_TEST(r.Local("app.yaml") == "a: 1\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(a_folder_turned_file_on_the_remote_replaces_an_unedited_local_folder) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Seeded r(served);
      r.RemoteTurnsNotesIntoAFile();
      r.Sync();
      BOOST_TEST(std::filesystem::is_regular_file(r.local + "/notes"));
      BOOST_TEST(r.Local("notes") == "now a file\n");
      BOOST_TEST(r.Remote("config/notes") == "now a file\n");
      // And back: the file becomes a folder again.
      r.person->Pull();
      r.person->Remove("config/notes");
      r.person->Write("config/notes/c.txt", "sea\n");
      BOOST_REQUIRE(r.person->CommitAndPush("file to folder"));
      r.Sync();
      BOOST_TEST(r.Local("notes/c.txt") == "sea\n");
      BOOST_TEST(r.Sync().summary == "in sync");
    }
  }
}

BOOST_AUTO_TEST_CASE(remote_symlinks_and_submodules_are_kept_in_the_branch_and_never_written) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Seeded r(served);
      std::string folder = r.person->RawTree({{"100644", "app.yaml", r.Blob("a: 2\n")},
                                              {"120000", "link", r.Blob("../../../etc/passwd")},
                                              {"160000", "sub", r.RemoteHead()}});
      r.person->PushTree(r.person->RawTree({{"40000", "config", folder}}), "odd entries");
      r.Sync();
      BOOST_TEST(r.Local("app.yaml") == "a: 2\n");
      BOOST_TEST(!std::filesystem::exists(std::filesystem::symlink_status(r.local + "/link")));
      BOOST_TEST(!r.LocalExists("sub"));
      BOOST_TEST(Warned(r, "remote symlink link: not synced"));
      BOOST_TEST(Warned(r, "remote submodule sub: not synced"));
      r.WriteLocal("new.txt", "n\n");
      r.Sync();
      std::string tree = Git({"--git-dir", r.bare, "ls-tree", "main:config"}).out;
      BOOST_TEST(tree.find("120000 blob") != std::string::npos, tree);
      BOOST_TEST(tree.find("160000 commit") != std::string::npos, tree);
      BOOST_TEST(r.Remote("config/new.txt") == "n\n");
    }
  }
}

BOOST_AUTO_TEST_CASE(a_50_mb_yaml_file_is_synced_unvalidated_in_bounded_memory) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Seeded r(served);
      r.spec.max_file_size = 64ull * 1024 * 1024;
      std::string big;
      big.reserve(50u << 20);
      for (size_t i = 0; big.size() < (50u << 20); ++i) big += "key" + std::to_string(i) + ": [1, 2, {a: b}]\n";
      r.person->Write("config/huge.yaml", big);
      r.PersonPushes("huge yaml");
      big.clear();
      big.shrink_to_fit();
      r.Sync();
      BOOST_TEST(r.Local("huge.yaml").size() >= (50u << 20));
      BOOST_TEST(Warned(r, "huge.yaml is larger than"));
      struct rusage ru{};
      getrusage(RUSAGE_SELF, &ru);
      // yaml-cpp holds many times a document in memory; a file this size is never parsed.
      BOOST_TEST(ru.ru_maxrss < 600L * 1024, "peak RSS " << ru.ru_maxrss / 1024 << " MiB");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
