// Remote trees an attacker (or an odd tool) can push to a plain Git server, which accepts
// them with receive.fsckObjects=false (the default of git daemon, git http-backend, Gitea and
// file://). Each case runs against a file:// remote and the nginx HTTPS server, with the
// hostile commit built by git plumbing and pushed by a person's clone.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <memory>

#include "sync/folder_tree.h"
#include "tests/sync/remote_fixture.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

// One hostile entry of config/, next to a sane change of app.yaml in the same commit.
struct Poison {
  std::string what;   // for the test context
  std::string shown;  // what the refusal must quote
  std::vector<GitClone::RawEntry> (*entries)(Binding&);
};

std::vector<GitClone::RawEntry> WithApp(Binding& r, std::vector<GitClone::RawEntry> poison) {
  poison.push_back({"100644", "app.yaml", r.Blob("a: 2\n")});
  std::sort(poison.begin(), poison.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return poison;
}

std::vector<GitClone::RawEntry> Folder(Binding& r, const std::string& name) {
  std::string inner = r.person->RawTree({{"100644", "escaped.txt", r.Blob("owned\n")}});
  return WithApp(r, {{"40000", name, inner}});
}

std::vector<Poison> Poisons() {
  return {
      {"a folder named ..", "unsafe path '..'", [](Binding& r) { return Folder(r, ".."); }},
      {"a folder named .git", "unsafe path '.git'", [](Binding& r) { return Folder(r, ".git"); }},
      {"a folder named .GiT", "unsafe path '.GiT'", [](Binding& r) { return Folder(r, ".GiT"); }},
      {"a folder named .git. (NTFS)", "unsafe path '.git.'", [](Binding& r) { return Folder(r, ".git."); }},
      {"a folder named '.git  ' (NTFS)", "unsafe path '.git  '", [](Binding& r) { return Folder(r, ".git  "); }},
      {"a folder named GIT~1 (NTFS short name)", "unsafe path 'GIT~1'", [](Binding& r) { return Folder(r, "GIT~1"); }},
      {"a folder named .git::$INDEX_ALLOCATION", "unsafe path '.git::$INDEX_ALLOCATION'",
       [](Binding& r) { return Folder(r, ".git::$INDEX_ALLOCATION"); }},
      {"a folder named .g\\u200cit (HFS+)", "unsafe path '.g\xe2\x80\x8cit'", [](Binding& r) { return Folder(r, ".g\xe2\x80\x8cit"); }},
      {"a file named .", "unsafe path '.'",
       [](Binding& r) { return WithApp(r, {{"100644", ".", r.Blob("dot\n")}}); }},
      {"a '/' inside a name", "unsafe path 'a/escaped.txt'",
       [](Binding& r) { return WithApp(r, {{"100644", "a/escaped.txt", r.Blob("slash\n")}}); }},
      {"a backslash inside a name", "unsafe path 'a\\b'",
       [](Binding& r) { return WithApp(r, {{"100644", "a\\b", r.Blob("bs\n")}}); }},
      {"a name of 256 bytes", "unsafe path '" + std::string(256, 'n') + "'",
       [](Binding& r) { return WithApp(r, {{"100644", std::string(256, 'n'), r.Blob("long\n")}}); }},
      {"two entries of one name", "two entries of this name",
       [](Binding& r) {
         return WithApp(r, {{"100644", "dup.txt", r.Blob("one\n")}, {"100644", "dup.txt", r.Blob("two\n")}});
       }},
  };
}

// config/app.yaml "a: 1", synced.
void Seed(Binding& r) {
  r.person->Write("config/app.yaml", "a: 1\n");
  BOOST_REQUIRE(r.person->CommitAndPush("first"));
  r.Sync();
}

void ExpectRefusedWhole(Binding& r, const Status& status, const std::string& bad, const Poison& p,
                        const std::string& synced) {
  BOOST_TEST(!status.ok());
  BOOST_TEST(status.message().find("commit " + bad) != std::string::npos, status.message());
  BOOST_TEST(status.message().find(p.shown) != std::string::npos, status.message());
  BOOST_TEST(r.Local("app.yaml") == "a: 1\n");  // not even the sane part of the commit
  BOOST_TEST(!r.EscapedAnywhere());
  BOOST_TEST(!r.LocalExists(".git"));
  BOOST_TEST(r.State().last_synced_commit == synced);
  BOOST_TEST(r.State().last_error.find(bad) != std::string::npos);
  BOOST_TEST(r.RemoteHead() == bad);  // nothing pushed for it
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hostile_trees)

BOOST_AUTO_TEST_CASE(a_commit_with_an_unsafe_name_is_refused_whole_and_the_binding_follows_the_fix) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    for (const Poison& p : Poisons()) {
      BOOST_TEST_CONTEXT(Name(served) << ", " << p.what) {
        Binding r(served);
        Seed(r);
        std::string synced = r.State().last_synced_commit;
        std::string bad = r.PushFolder(p.entries(r), "hostile");

        // The incremental pass (nothing changed locally) and the full pass refuse it alike.
        ExpectRefusedWhole(r, r.IncrementalPass({}).status(), bad, p, synced);
        r.WriteLocal("mine.txt", "local edit\n");
        ExpectRefusedWhole(r, r.SyncStatus(), bad, p, synced);
        BOOST_TEST(!r.RemoteHas("config/mine.txt"));

        // The branch moves on to a sane commit: the binding follows by itself.
        r.PushFolder({{"100644", "app.yaml", r.Blob("a: 3\n")}}, "fixed");
        r.Sync();
        BOOST_TEST(r.Local("app.yaml") == "a: 3\n");
        BOOST_TEST(r.Remote("config/mine.txt") == "local edit\n");
        BOOST_TEST(r.State().last_error.empty());
        BOOST_TEST(!r.EscapedAnywhere());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_branch_reset_past_a_refused_commit_is_followed) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Binding r(served);
      Seed(r);
      std::string synced = r.State().last_synced_commit;
      std::string bad = r.PushFolder(Folder(r, ".."), "hostile");
      BOOST_TEST(!r.SyncStatus().ok());
      // Someone resets the branch to the last good commit and builds on it.
      r.PushFolder({{"100644", "app.yaml", r.Blob("a: 4\n")}}, "on the good one", synced, /*force=*/true);
      r.Sync();
      BOOST_TEST(r.Local("app.yaml") == "a: 4\n");
      BOOST_TEST(r.State().last_error.empty());
      BOOST_TEST(!r.EscapedAnywhere());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_refused_commit_is_not_merged_with_local_edits) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Binding r(served);
      Seed(r);
      std::string bad = r.PushFolder(Folder(r, ".git"), "hostile");
      r.WriteLocal("app.yaml", "a: local\n");  // both sides changed app.yaml: a merge would run
      Status s = r.SyncStatus();
      BOOST_TEST(!s.ok());
      BOOST_TEST(s.message().find(bad) != std::string::npos, s.message());
      BOOST_TEST(r.RemoteHead() == bad);
      BOOST_TEST(Branches(r.bare).size() == 1u);  // no conflict branch either
      BOOST_TEST(r.Local("app.yaml") == "a: local\n");
      BOOST_TEST(!r.LocalExists(".git"));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
