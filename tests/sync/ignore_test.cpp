// Ignore rules against real remotes (file:// and the nginx HTTPS server; fetch: api against
// the provider API server): editor temp files never reach the branch, an ignored remote file
// is neither written locally nor deleted from the branch, .gitignore files (nested, with
// negations) are honoured, and the operator's rules win over a .gitignore.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>

#include <git2.h>

#include "config/ignore_rules.h"
#include "sync/git_handles.h"
#include "sync/ignore_matcher.h"
#include "tests/sync/api_fixture.h"
#include "tests/sync/remote_fixture.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

// The files of the remote's config/ folder, as `git ls-tree` names them.
std::string RemoteFiles(const std::string& bare, const std::string& folder = "config") {
  return Git({"--git-dir", bare, "ls-tree", "-r", "--name-only", "main", folder}).out;
}

struct Seeded : Binding {
  explicit Seeded(Served served, const std::vector<std::string>& sync_rules = {}) : Binding(served) {
    spec.ignore_rules = EffectiveIgnoreRules(true, {}, sync_rules);
    person->Write("config/a.yaml", "a: 1\n");
    BOOST_REQUIRE(person->CommitAndPush("seed"));
    Sync();
  }
  void PersonPushes(const std::string& message) {
    person->Pull();
    BOOST_REQUIRE(person->CommitAndPush(message));
  }
};

// What vim, emacs and friends leave next to a.yaml while it is open.
const std::vector<std::string> kEditorDroppings = {".a.yaml.swp", ".a.yaml.swo", ".a.yaml.swx", "4913",
                                                   "#a.yaml#",    "a.yaml~",     ".DS_Store",   "Thumbs.db",
                                                   "a.yaml.tmp",  "sub/.b.yaml.swp"};

}  // namespace

BOOST_AUTO_TEST_SUITE(ignore_rules)

BOOST_AUTO_TEST_CASE(vim_and_emacs_temp_files_saved_in_a_bidirectional_folder_never_reach_the_remote) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Seeded r(served);
      for (const auto& f : kEditorDroppings) r.WriteLocal(f, "editor state\n");
      // emacs' lock file is a dangling symlink: ignored, so not even reported as a symlink.
      std::filesystem::create_symlink("root@host.1234:1700000000", r.local + "/.#a.yaml");
      r.WriteLocal("a.yaml", "a: 2\n");
      r.WriteLocal("sub/b.yaml", "b: 1\n");
      // The watcher's paths (an incremental pass), then a full pass: neither pushes a temp file.
      std::set<std::string> seen(kEditorDroppings.begin(), kEditorDroppings.end());
      seen.insert({".#a.yaml", "a.yaml", "sub"});
      auto inc = r.IncrementalPass(seen);
      BOOST_REQUIRE_MESSAGE(inc.ok(), inc.status().message());
      r.Sync();
      BOOST_TEST(RemoteFiles(r.bare) == "config/a.yaml\nconfig/sub/b.yaml\n");
      BOOST_TEST(r.Remote("config/a.yaml") == "a: 2\n");
      for (const auto& w : r.State().warnings) BOOST_TEST(w.find(".#a.yaml") == std::string::npos, w);
      // And the temp files are still in the folder: ignoring never deletes.
      for (const auto& f : kEditorDroppings) BOOST_TEST(r.Local(f) == "editor state\n", f);
      BOOST_TEST(r.State().pending_local_changes == 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(an_ignored_remote_file_is_not_written_and_a_later_local_commit_does_not_delete_it) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      Seeded r(served, {"*.log"});
      r.WriteLocal("mine.log", "local log\n");  // a local ignored file of its own
      r.person->Write("config/debug.log", "remote log\n");
      r.person->Write("config/.a.yaml.swp", "someone's swap file\n");
      r.person->Write("config/b.yaml", "b: 1\n");
      r.PersonPushes("adds ignored files");
      r.Sync();
      BOOST_TEST(r.Local("b.yaml") == "b: 1\n");
      BOOST_TEST(!r.LocalExists("debug.log"));
      BOOST_TEST(!r.LocalExists(".a.yaml.swp"));
      // Local commits, by a full and by an incremental pass, keep the ignored remote files.
      r.WriteLocal("a.yaml", "a: 2\n");
      r.Sync();
      r.WriteLocal("b.yaml", "b: 2\n");
      BOOST_REQUIRE(r.IncrementalPass({"b.yaml", "debug.log"}).ok());
      BOOST_TEST(r.Remote("config/a.yaml") == "a: 2\n");
      BOOST_TEST(r.Remote("config/b.yaml") == "b: 2\n");
      BOOST_TEST(r.Remote("config/debug.log") == "remote log\n");
      BOOST_TEST(r.Remote("config/.a.yaml.swp") == "someone's swap file\n");
      BOOST_TEST(!r.RemoteHas("config/mine.log"));
      // A local file at an ignored remote path is neither pushed over it nor replaced by it.
      r.WriteLocal("debug.log", "my own debug log\n");
      r.person->Write("config/debug.log", "remote log, changed\n");
      r.PersonPushes("changes the ignored file");
      r.Sync();
      BOOST_TEST(r.Local("debug.log") == "my own debug log\n");
      BOOST_TEST(r.Remote("config/debug.log") == "remote log, changed\n");
      // The remote deleting its copy deletes no local file.
      r.person->Remove("config/debug.log");
      r.PersonPushes("removes the ignored file");
      r.Sync();
      BOOST_TEST(r.Local("debug.log") == "my own debug log\n");
      BOOST_TEST(r.Local("mine.log") == "local log\n");
      BOOST_TEST(r.State().last_error.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_gitignore_with_a_negation_is_honoured_nested_ones_included) {
  for (Served served : {Served::kFile, Served::kHttps}) {
    BOOST_TEST_CONTEXT(Name(served)) {
      // The sync's own list may un-ignore a default ('!' as in a .gitignore).
      Seeded r(served, {"!.keep.swp"});
      r.WriteLocal(".gitignore", "*.log\n!keep.log\nbuild/\n");
      r.WriteLocal("sub/.gitignore", "secret.txt\n");
      for (const auto& f : {"a.log", "keep.log", "build/out.yaml", "sub/secret.txt", "sub/x.txt", "secret.txt",
                            ".keep.swp", ".other.swp"}) {
        r.WriteLocal(f, std::string("content of ") + f + "\n");
      }
      r.Sync();
      BOOST_TEST(RemoteFiles(r.bare) ==
                 "config/.gitignore\nconfig/.keep.swp\nconfig/a.yaml\nconfig/keep.log\nconfig/secret.txt\n"
                 "config/sub/.gitignore\nconfig/sub/x.txt\n");
      // The .gitignore is an ordinary synced file: a change to it arrives on the branch, and
      // what it no longer ignores is pushed.
      r.WriteLocal(".gitignore", "*.log\n!keep.log\n");
      r.Sync();
      BOOST_TEST(r.Remote("config/.gitignore") == "*.log\n!keep.log\n");
      BOOST_TEST(r.Remote("config/build/out.yaml") == "content of build/out.yaml\n");
    }
  }
}

// A .gitignore comes from whoever may push to the branch; the operator's rules come first, so
// it cannot un-ignore a file the operator keeps local.
BOOST_AUTO_TEST_CASE(a_gitignore_cannot_unignore_what_the_operator_ignores) {
  Seeded r(Served::kFile, {"secrets.env"});
  r.person->Write("config/.gitignore", "!secrets.env\n!*.swp\n");
  r.PersonPushes("tries to un-ignore");
  r.Sync();
  BOOST_REQUIRE(r.Local(".gitignore") == "!secrets.env\n!*.swp\n");
  r.WriteLocal("secrets.env", "TOKEN=hunter2\n");
  r.WriteLocal(".a.yaml.swp", "swap\n");
  r.WriteLocal("a.yaml", "a: 2\n");
  r.Sync();
  BOOST_TEST(r.Remote("config/a.yaml") == "a: 2\n");
  BOOST_TEST(!r.RemoteHas("config/secrets.env"));
  BOOST_TEST(!r.RemoteHas("config/.a.yaml.swp"));
}

// A local user who makes .gitignore a FIFO or a symlink cannot hang the pass or point it
// outside the folder: neither is read (both are reported as not synced).
BOOST_AUTO_TEST_CASE(a_gitignore_that_is_a_fifo_or_a_symlink_is_not_read) {
  Seeded r(Served::kFile, {});
  WriteFile(r.dir / "outside-rules", "a.yaml\n");
  std::filesystem::create_symlink(r.dir / "outside-rules", r.local + "/.gitignore");
  std::filesystem::create_directories(r.local + "/sub");
  BOOST_REQUIRE(::mkfifo((r.local + "/sub/.gitignore").c_str(), 0600) == 0);
  r.WriteLocal("a.yaml", "a: 3\n");
  r.WriteLocal("sub/c.yaml", "c: 1\n");
  r.Sync();  // returns: the FIFO is never opened for reading
  BOOST_TEST(r.Remote("config/a.yaml") == "a: 3\n");
  BOOST_TEST(r.Remote("config/sub/c.yaml") == "c: 1\n");
}

BOOST_AUTO_TEST_CASE(turning_the_defaults_off_syncs_editor_files_like_any_other) {
  Seeded r(Served::kFile, {});
  r.spec.ignore_rules = EffectiveIgnoreRules(false, {}, {});
  r.WriteLocal("a.yaml~", "backup\n");
  r.Sync();
  BOOST_TEST(r.Remote("config/a.yaml~") == "backup\n");
}

// fetch: api: the same rules, in a pass that reads and writes through the provider's API.
BOOST_AUTO_TEST_CASE(ignore_rules_hold_in_the_api_mode) {
  ApiFixture f;
  f.spec.direction = SyncDirection::kBidirectional;
  f.spec.ignore_rules = EffectiveIgnoreRules(true, {}, {"*.log"});
  f.person->Write("configs/app/remote.log", "remote log\n");
  f.person->Write("configs/app/.a.yaml.swp", "remote swap\n");
  Git({"-C", f.person->dir(), "add", "-A"});
  Git({"-C", f.person->dir(), "commit", "-q", "-m", "ignored files"});
  Git({"-C", f.person->dir(), "push", "-q", "origin", "HEAD:main"});
  f.MustSync();
  BOOST_TEST(!FileExists(f.spec.local + "/remote.log"));
  BOOST_TEST(!FileExists(f.spec.local + "/.a.yaml.swp"));
  WriteFile(f.spec.local + "/a.yaml", "a: 2\n");
  WriteFile(f.spec.local + "/.a.yaml.swp", "local swap\n");
  WriteFile(f.spec.local + "/local.log", "local log\n");
  f.MustSync();
  auto remote = [&](const std::string& p, bool* found = nullptr) {
    return ShowFile(f.bare, "main", "configs/app/" + p, found);
  };
  bool found = true;
  BOOST_TEST(remote("a.yaml") == "a: 2\n");
  BOOST_TEST(remote("remote.log") == "remote log\n");
  BOOST_TEST(remote(".a.yaml.swp") == "remote swap\n");
  remote("local.log", &found);
  BOOST_TEST(!found);
  BOOST_TEST(ReadFile(f.spec.local + "/.a.yaml.swp") == "local swap\n");
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// libgit2's own answer for one gitignore line, asked of a fresh repository with no shortcut.
bool LibgitIgnores(const std::string& dir, const std::string& line, const std::string& path, bool is_dir) {
  git_repository* raw = nullptr;
  BOOST_REQUIRE_EQUAL(git_repository_init(&raw, (dir + "/ref").c_str(), 1), 0);
  RepositoryPtr repo(raw);
  std::filesystem::create_directories(dir + "/refview");
  BOOST_REQUIRE_EQUAL(git_repository_set_workdir(raw, (dir + "/refview").c_str(), 0), 0);
  BOOST_REQUIRE_EQUAL(git_ignore_add_rule(raw, (line + "\n").c_str()), 0);
  int ignored = 0;
  BOOST_REQUIRE_EQUAL(git_ignore_path_is_ignored(&ignored, raw, (is_dir ? path + "/" : path).c_str()), 0);
  return ignored == 1;
}

}  // namespace

// The matcher skips libgit2 for a path no line could match; that shortcut must never change an
// answer. Odd lines on purpose: escapes, brackets, spaces, anchors, `**`, a comment and a
// negation that are not in the first column, a bracket never closed.
BOOST_AUTO_TEST_CASE(the_literal_shortcut_never_changes_what_libgit2_would_answer) {
  const std::vector<std::string> lines = {
      "*.tmp",  "\\#*#",        "foo ",          "foo\\ ",     "[a-z]*.yaml", "a/**/b",      "**/x",
      "/root.txt", "dir/",      "[]]x",          "[!a]b",      "[[:digit:]]x", "\\*lit",     "sp ace",
      "*",      "tab\t",        "trail\\",       " #notcomment", " !neg",     "ab[",         "\\!bang",
      "x?y",    "d/*.yaml",     "secret*.env\r", "\\[x]",      ".*.sw[a-p]",  "4913",        "#comment",
      "!negated"};
  const std::vector<std::string> paths = {
      "foo",   "foo ",      "a/b",     "a/x/b",     "x",          "d/x",     "root.txt", "d/root.txt", "dir",
      "dir/f", "]x",        "bb",      "ab",        "1x",         "*lit",    "sp ace",   "tab\t",      "trail",
      "trail\\", " #notcomment", "#x", " !neg",     "neg",        "ab[",     "!bang",    "xzy",        "a.tmp",
      "#a#",   "z.yaml",    "d/a.yaml", "d/e/a.yaml", "secret1.env", "[x]",   "x]",       ".a.yaml.swp", "4913",
      "#comment", "negated", "comment"};
  EnsureLibgit2();
  int compared = 0, shortcut = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    TempDir dir;
    std::filesystem::create_directories(dir.path() + "/binding");
    git_repository* raw = nullptr;
    BOOST_REQUIRE_EQUAL(git_repository_init(&raw, (dir.path() + "/binding/repo").c_str(), 1), 0);
    RepositoryPtr keep(raw);
    auto m = IgnoreMatcher::Open(dir.path() + "/binding", dir.path() + "/folder", {lines[i]});
    BOOST_REQUIRE_MESSAGE(m.ok(), m.status().message());
    IgnoreLiterals one;
    one.Add(lines[i]);
    for (const auto& p : paths) {
      for (bool is_dir : {false, true}) {
        BOOST_TEST_CONTEXT("line '" << lines[i] << "', path '" << p << "'" << (is_dir ? " (folder)" : "")) {
          auto got = (*m)->Ignored(p, is_dir);
          BOOST_REQUIRE(got.ok());
          BOOST_TEST(*got == LibgitIgnores(dir.path(), lines[i], p, is_dir));
          ++compared;
          if (!one.MayMatch(p)) ++shortcut;
        }
      }
    }
  }
  // The shortcut is taken for most pairs, or this test would prove nothing about it.
  BOOST_TEST(shortcut > compared / 2);
}
