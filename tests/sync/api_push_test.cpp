// fetch: api write-back against tests/support/provider_api_server.py, whose write endpoints
// follow each provider's documented commit API (cited in the script) and create real commits
// in the bare repository behind it, with the providers' compare-and-swap refusals. What the
// user checks, with the git CLI on that repository: local edits (added, modified, deleted
// files) land as one commit by the connector's commit author; a branch moved meanwhile is
// merged, never overwritten; a conflict's losing side is on a conflict branch; our own commit
// is not fetched back.
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "tests/sync/api_fixture.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

const char* kAuthor = "Config Bot <config-bot@acme.example>";

// `git log -1 --format=<fmt> <rev>` without the newline.
std::string Log(const std::string& repo, const std::string& rev, const std::string& fmt) {
  std::string out = LogFormat(repo, rev, fmt);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string Remote(ApiFixture& f, const std::string& path, bool* found = nullptr, const std::string& rev = "main") {
  return ShowFile(f.bare, rev, "configs/app/" + path, found);
}

std::string ConflictBranch(ApiFixture& f) {
  for (const auto& b : Branches(f.bare)) {
    if (b.rfind("gitsyncd/conflicts/dns/", 0) == 0) return b;
  }
  return "";
}

bool IsAncestor(const std::string& repo, const std::string& older, const std::string& newer) {
  return Git({"--git-dir", repo, "merge-base", "--is-ancestor", older, newer}, "", {}, true).exit_code == 0;
}

// Edits, additions and (where the API can) deletions land as a real commit by the commit
// author; links and submodules the folder cannot hold stay in the repository; the next pass
// costs one request.
void EditsLandAsOneCommitByTheAuthor(ApiFixture& f, bool deletes, const std::string& author = kAuthor) {
  f.spec.direction = SyncDirection::kBidirectional;
  auto r = f.Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  std::string before = Log(f.bare, "main", "%H");
  WriteFile(f.spec.local + "/a.yaml", "a: 2\n");
  WriteFile(f.spec.local + "/new/c.yaml", "c: 1\n");
  if (deletes) std::filesystem::remove(f.spec.local + "/sub/b.yaml");
  r = f.Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(r->summary.find("pushed") == 0u, r->summary);

  bool found = false;
  BOOST_TEST(Remote(f, "a.yaml") == "a: 2\n");
  BOOST_TEST(Remote(f, "new/c.yaml") == "c: 1\n");
  Remote(f, "sub/b.yaml", &found);
  BOOST_TEST(found == !deletes);
  BOOST_TEST(ShowFile(f.bare, "main", "other/outside.txt") == "not in the folder\n");
  std::string tree = Git({"--git-dir", f.bare, "ls-tree", "-r", "main", "configs/app"}).out;
  BOOST_TEST(tree.find("100755 blob") != std::string::npos, tree);  // run.sh keeps its mode
  BOOST_TEST(tree.find("120000 blob") != std::string::npos, tree);  // the symlink is still there
  BOOST_TEST(tree.find("160000 commit") != std::string::npos, tree);  // and the submodule
  BOOST_TEST(Log(f.bare, "main", "%an <%ae>") == author);
  BOOST_TEST(IsAncestor(f.bare, before, "main"));
  // Someone pulling with git sees it.
  f.person->Pull();
  BOOST_TEST(ReadFile(f.person->dir() + "/configs/app/new/c.yaml") == "c: 1\n");

  // Our own commit is known: the next pass asks for the branch head and nothing else.
  int64_t requests = f.Total();
  r = f.Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(r->summary == "in sync");
  BOOST_TEST(f.Total() - requests == 1);
}

// A local edit written on the last synced commit while someone pushed meanwhile: the write is
// refused (or, where the provider checks only the files written, detected from the new
// commit's parent), the pass fetches, merges and writes again; both edits end up everywhere.
void AMovedBranchIsMergedNeverOverwritten(ApiFixture& f, bool branch_cas) {
  f.spec.direction = SyncDirection::kBidirectional;
  BOOST_REQUIRE(f.Sync().ok());
  WriteFile(f.spec.local + "/a.yaml", "a: local\n");
  f.person->Write("configs/app/sub/b.yaml", "b: person\n");
  BOOST_REQUIRE(f.person->CommitAndPush("person edits b"));
  std::string theirs = f.person->Head();
  auto r = RunSyncPass(f.spec, /*local_trigger_only=*/true);  // writes on the last synced commit first
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(Remote(f, "a.yaml") == "a: local\n");
  BOOST_TEST(Remote(f, "sub/b.yaml") == "b: person\n");
  BOOST_TEST(IsAncestor(f.bare, theirs, "main"));  // nothing of theirs was overwritten
  BOOST_TEST(f.Local("sub/b.yaml") == "b: person\n");
  BOOST_TEST(f.Local("a.yaml") == "a: local\n");
  if (branch_cas) BOOST_TEST(f.Count("write_rejected") >= 1);
  auto again = f.Sync();
  BOOST_REQUIRE_MESSAGE(again.ok(), again.status().message());
  BOOST_TEST(again->summary == "in sync");
}

// After a first sync, a.yaml is edited locally ("a: local") and by the person ("a: remote",
// pushed). Returns the commit both started from.
std::string BothSidesEditA(ApiFixture& f) {
  f.spec.direction = SyncDirection::kBidirectional;
  auto r = f.Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  std::string base = Log(f.bare, "main", "%H");
  WriteFile(f.spec.local + "/a.yaml", "a: local\n");
  f.person->Write("configs/app/a.yaml", "a: remote\n");
  BOOST_REQUIRE(f.person->CommitAndPush("person edits a"));
  return base;
}

// Both sides changed the same file: the remote version wins on the branch (keep-both), the
// local one is written to a conflict branch through the API, based on the last synced commit.
void ASameFileConflictGoesToAConflictBranch(ApiFixture& f, const std::string& author = kAuthor) {
  std::string base = BothSidesEditA(f);
  auto r = f.Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(r->summary.find("conflict in 1 file (keep-both)") == 0u, r->summary);
  std::string branch = ConflictBranch(f);
  BOOST_REQUIRE_MESSAGE(!branch.empty(), "no conflict branch");
  BOOST_TEST(r->summary.find(branch) != std::string::npos, r->summary);
  BOOST_TEST(Remote(f, "a.yaml", nullptr, branch) == "a: local\n");
  BOOST_TEST(Remote(f, "sub/b.yaml", nullptr, branch) == "b: 1\n");
  BOOST_TEST(ShowFile(f.bare, branch, "other/outside.txt") == "not in the folder\n");
  BOOST_TEST(Log(f.bare, branch + "~1", "%H") == base);
  BOOST_TEST(Log(f.bare, branch, "%an <%ae>") == author);
  BOOST_TEST(Remote(f, "a.yaml") == "a: remote\n");
  BOOST_TEST(f.Local("a.yaml") == "a: remote\n");
}

// The same, but the local edit is written first on the last synced commit (a pass started by
// the file event): every provider refuses that stale write of a file changed meanwhile; the
// pass then fetches and puts the local version on a conflict branch.
void AStaleWriteOfAChangedFileIsRefused(ApiFixture& f) {
  BothSidesEditA(f);
  auto r = RunSyncPass(f.spec, /*local_trigger_only=*/true);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(f.Count("write_rejected") >= 1);
  std::string branch = ConflictBranch(f);
  BOOST_REQUIRE_MESSAGE(!branch.empty(), "no conflict branch");
  BOOST_TEST(Remote(f, "a.yaml", nullptr, branch) == "a: local\n");
  BOOST_TEST(Remote(f, "a.yaml") == "a: remote\n");
  BOOST_TEST(f.Local("a.yaml") == "a: remote\n");
}

// prefer-local: the local version goes to the branch, the remote one (the person's commit as
// it is) to the conflict branch.
void PreferLocalKeepsTheRemoteVersionOnAConflictBranch(ApiFixture& f) {
  f.spec.on_conflict = ConflictPolicy::kPreferLocal;
  BothSidesEditA(f);
  std::string theirs = f.person->Head();
  auto r = f.Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  std::string branch = ConflictBranch(f);
  BOOST_REQUIRE_MESSAGE(!branch.empty(), "no conflict branch");
  BOOST_TEST(Log(f.bare, branch, "%H") == theirs);
  BOOST_TEST(Remote(f, "a.yaml") == "a: local\n");
  BOOST_TEST(IsAncestor(f.bare, theirs, "main"));
  BOOST_TEST(f.Local("a.yaml") == "a: local\n");
}

}  // namespace

namespace {

// What each provider's commit API can do, as the tests expect it.
struct Writer {
  const char* name;
  const char* scopes;  // reported token scopes, where the provider reports them
  bool deletes;        // the API can delete files
  bool branch_cas;     // the API refuses a write on a moved branch (not only on changed files)
  const char* author;  // the commit author the remote records
};
const Writer kWriters[] = {
    {"github", nullptr, true, true, kAuthor},
    {"gitlab", "api", true, false, kAuthor},
    {"azure-repos", nullptr, true, true, kAuthor},
    // The file edit API deletes nothing, checks per file, and the author is the token's user.
    {"bitbucket-server", nullptr, false, false, "Bitbucket Token User <token-user@bitbucket.example>"},
    {"bitbucket-cloud", nullptr, true, true, kAuthor},
};
std::vector<std::string> WriterNames() {
  std::vector<std::string> names;
  for (const Writer& w : kWriters) names.push_back(w.name);
  return names;
}
const Writer& WriterNamed(const std::string& name) {
  for (const Writer& w : kWriters) {
    if (name == w.name) return w;
  }
  throw std::runtime_error("no writer " + name);
}
struct Fixture : ApiFixture {
  explicit Fixture(const Writer& w) : ApiFixture(*ParseProvider(w.name), w.scopes), writer(w) {}
  const Writer& writer;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(api_push)

BOOST_DATA_TEST_CASE(edits_land_as_one_commit_by_the_author, boost::unit_test::data::make(WriterNames()), name) {
  Fixture f(WriterNamed(name));
  EditsLandAsOneCommitByTheAuthor(f, f.writer.deletes, f.writer.author);
}

BOOST_DATA_TEST_CASE(a_moved_branch_is_merged_never_overwritten, boost::unit_test::data::make(WriterNames()), name) {
  Fixture f(WriterNamed(name));
  AMovedBranchIsMergedNeverOverwritten(f, f.writer.branch_cas);
}

BOOST_DATA_TEST_CASE(a_same_file_conflict_goes_to_a_conflict_branch, boost::unit_test::data::make(WriterNames()),
                     name) {
  Fixture f(WriterNamed(name));
  ASameFileConflictGoesToAConflictBranch(f, f.writer.author);
}

BOOST_DATA_TEST_CASE(a_stale_write_of_a_changed_file_is_refused, boost::unit_test::data::make(WriterNames()), name) {
  Fixture f(WriterNamed(name));
  AStaleWriteOfAChangedFileIsRefused(f);
}

BOOST_DATA_TEST_CASE(prefer_local_keeps_the_remote_version_on_a_conflict_branch,
                     boost::unit_test::data::make(WriterNames()), name) {
  Fixture f(WriterNamed(name));
  PreferLocalKeepsTheRemoteVersionOnAConflictBranch(f);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(github_api_push, ApiFixture)

BOOST_AUTO_TEST_CASE(a_branch_moved_during_a_merge_write_is_merged_again) {
  // The branch moves between the pass's fetch and its write: the merge is refused, fetched
  // and merged again, and all three edits survive.
  spec.direction = SyncDirection::kBidirectional;
  BOOST_REQUIRE(Sync().ok());
  WriteFile(spec.local + "/a.yaml", "a: local\n");
  person->Write("configs/app/sub/b.yaml", "b: person\n");
  BOOST_REQUIRE(person->CommitAndPush("person edits b"));
  api->Control("{\"move_branch_before_write\": \"main\"}");
  auto r = Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(Count("write_rejected") == 1);
  BOOST_TEST(Remote(*this, "a.yaml") == "a: local\n");
  BOOST_TEST(Remote(*this, "sub/b.yaml") == "b: person\n");
  std::string moved = Git({"--git-dir", bare, "ls-tree", "-r", "--name-only", "main", "elsewhere"}).out;
  BOOST_TEST(moved.find("elsewhere/moved-") == 0u, moved);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {
struct GitLabPushFixture : ApiFixture {
  GitLabPushFixture() : ApiFixture(Provider::kGitLab, "api") {}
};
}  // namespace

BOOST_FIXTURE_TEST_SUITE(gitlab_api_push, GitLabPushFixture)

BOOST_AUTO_TEST_CASE(a_new_executable_keeps_its_mode) {
  spec.direction = SyncDirection::kBidirectional;
  BOOST_REQUIRE(Sync().ok());
  WriteFile(spec.local + "/deploy.sh", "#!/bin/sh\n");
  std::filesystem::permissions(spec.local + "/deploy.sh", std::filesystem::perms::owner_exec,
                               std::filesystem::perm_options::add);
  std::filesystem::permissions(spec.local + "/run.sh", std::filesystem::perms::owner_exec | std::filesystem::perms::group_exec |
                                                           std::filesystem::perms::others_exec,
                               std::filesystem::perm_options::remove);
  auto r = Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  std::string tree = Git({"--git-dir", bare, "ls-tree", "main", "configs/app/"}).out;
  BOOST_TEST(tree.find("100755 blob") != std::string::npos, tree);
  BOOST_TEST(Git({"--git-dir", bare, "ls-tree", "main", "configs/app/deploy.sh"}).out.rfind("100755", 0) == 0u);
  BOOST_TEST(Git({"--git-dir", bare, "ls-tree", "main", "configs/app/run.sh"}).out.rfind("100644", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {
struct BitbucketServerPushFixture : ApiFixture {
  BitbucketServerPushFixture() : ApiFixture(Provider::kBitbucketServer) {}
};
}  // namespace

BOOST_FIXTURE_TEST_SUITE(bitbucket_server_api_push, BitbucketServerPushFixture)

BOOST_AUTO_TEST_CASE(a_local_deletion_is_refused_with_a_clear_error_and_nothing_written) {
  spec.direction = SyncDirection::kBidirectional;
  BOOST_REQUIRE(Sync().ok());
  std::string before = Log(bare, "main", "%H");
  std::filesystem::remove(spec.local + "/sub/b.yaml");
  WriteFile(spec.local + "/a.yaml", "a: 2\n");
  auto r = Sync();
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.status().message().find("Bitbucket Server: cannot write the deletion of configs/app/sub/b.yaml to branch "
                                       "main: its REST API has no way to delete a file") != std::string::npos,
             r.status().message());
  BOOST_TEST(Log(bare, "main", "%H") == before);
  BOOST_TEST(!FileExists(spec.local + "/sub/b.yaml"));  // the local folder is left as the user made it
  BOOST_TEST(Local("a.yaml") == "a: 2\n");
  // Restoring the file lets the edit through.
  WriteFile(spec.local + "/sub/b.yaml", "b: 1\n");
  r = Sync();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.status().message());
  BOOST_TEST(Remote(*this, "a.yaml") == "a: 2\n");
}

BOOST_AUTO_TEST_SUITE_END()
