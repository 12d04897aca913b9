// A binding's repository stays small (docs/sync.md, "Repository maintenance"): packs are
// consolidated and what nothing needs any more is pruned, without ever losing an object a ref,
// state.json or a conflict names, and a kill -9 at any moment of it leaves a valid repository.
// Against a file:// remote and the nginx HTTPS server.
#include <git2.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <map>
#include <random>

#include "sync/git_handles.h"
#include "sync/repo_maintenance.h"
#include "tests/sync/remote_fixture.h"
#include "tests/sync/repo_soak.h"

using namespace gitsyncd;
using namespace gitsyncd::testing;

namespace {

namespace fs = std::filesystem;

std::string RepoDir(const Binding& f) { return f.spec.binding_dir + "/repo"; }

// `git fsck --full` exits 0 and reports nothing missing or broken (dangling objects are
// information, not damage).
void ExpectFsckClean(const std::string& repo, const std::string& when) {
  CommandResult fsck = Git({"--git-dir", repo, "fsck", "--full", "--no-progress"}, "", {}, true);
  std::string all = fsck.out + fsck.err;
  bool damaged = all.find("missing") != std::string::npos || all.find("broken") != std::string::npos ||
                 all.find("error") != std::string::npos || all.find("corrupt") != std::string::npos;
  BOOST_TEST((fsck.exit_code == 0 && !damaged), "git fsck of " + repo + " " + when + ": " + all);
}

bool HasObject(const std::string& repo, const std::string& id) {
  return Git({"--git-dir", repo, "cat-file", "-e", id}, "", {}, true).exit_code == 0;
}

// The soak (tests/sync/repo_soak.h): after every pass the counts are within the limits; at
// the end nothing is lost, both repositories are whole, and the store is under twice a fresh
// mirror clone of the same history.
void SoakKeepsTheRepositorySmall(bool https, int passes) {
  RepoSoakOptions options;
  options.https = https;
  options.passes = passes;
  RepoSoakReport r = RunRepoSoak(options);
  BOOST_TEST_MESSAGE(RepoSoakTable(r, options));
  for (const auto& failure : r.failures) BOOST_ERROR(failure);
  BOOST_TEST(r.passes == passes);
  BOOST_TEST(r.maintained > 0);
  BOOST_TEST(r.conflicts > 0);
  BOOST_TEST(r.store_bytes < 2 * r.mirror_bytes,
             std::to_string(r.store_bytes) + " bytes against a mirror clone of " + std::to_string(r.mirror_bytes));
  // Passes leave no memory behind (a libgit2 leak once cost a few hundred KB per pass here).
  BOOST_TEST(r.heap_at_end < r.heap_after_warmup + 8 * 1024 * 1024,
             "the heap grew from " << r.heap_after_warmup / 1024 << " to " << r.heap_at_end / 1024 << " KiB");
}

std::string WriteBlob(git_repository* repo, const std::string& text) {
  git_oid id;
  BOOST_REQUIRE(git_blob_create_from_buffer(&id, repo, text.data(), text.size()) == 0);
  return OidHex(id);
}

// A commit holding `file` = `text` at the root, on top of `parent` (may be empty).
std::string WriteCommit(git_repository* repo, const std::string& file, const std::string& text,
                        const std::string& parent = "") {
  git_oid blob, tree_id, commit_id;
  BOOST_REQUIRE(git_oid_fromstr(&blob, WriteBlob(repo, text).c_str()) == 0);
  git_treebuilder* tb = nullptr;
  BOOST_REQUIRE(git_treebuilder_new(&tb, repo, nullptr) == 0);
  TreeBuilderPtr builder(tb);
  BOOST_REQUIRE(git_treebuilder_insert(nullptr, tb, file.c_str(), &blob, GIT_FILEMODE_BLOB) == 0);
  BOOST_REQUIRE(git_treebuilder_write(&tree_id, tb) == 0);
  git_tree* tree = nullptr;
  BOOST_REQUIRE(git_tree_lookup(&tree, repo, &tree_id) == 0);
  TreePtr owned_tree(tree);
  git_signature* sig = nullptr;
  BOOST_REQUIRE(git_signature_new(&sig, "t", "t@example.com", 1700000000, 0) == 0);
  SignaturePtr owned_sig(sig);
  std::vector<const git_commit*> parents;
  CommitPtr parent_commit;
  if (!parent.empty()) {
    git_oid p;
    git_commit* c = nullptr;
    BOOST_REQUIRE(git_oid_fromstr(&p, parent.c_str()) == 0);
    BOOST_REQUIRE(git_commit_lookup(&c, repo, &p) == 0);
    parent_commit.reset(c);
    parents.push_back(c);
  }
  BOOST_REQUIRE(git_commit_create(&commit_id, repo, nullptr, sig, sig, nullptr, ("edit " + text).c_str(), tree,
                                  parents.size(), parents.data()) == 0);
  return OidHex(commit_id);
}

RepositoryPtr OpenRepo(const std::string& path) {
  git_repository* raw = nullptr;
  BOOST_REQUIRE(git_repository_open_bare(&raw, path.c_str()) == 0);
  return RepositoryPtr(raw);
}

void SetRef(git_repository* repo, const std::string& name, const std::string& hex) {
  git_oid id;
  BOOST_REQUIRE(git_oid_fromstr(&id, hex.c_str()) == 0);
  git_reference* ref = nullptr;
  BOOST_REQUIRE(git_reference_create(&ref, repo, name.c_str(), &id, 1, nullptr) == 0);
  git_reference_free(ref);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(repo_maintenance)

BOOST_AUTO_TEST_CASE(hundreds_of_passes_with_edits_on_both_sides_keep_a_file_remote_binding_small) {
  SoakKeepsTheRepositorySmall(false, 200);
}

BOOST_AUTO_TEST_CASE(hundreds_of_passes_with_edits_on_both_sides_keep_an_https_binding_small) {
  SoakKeepsTheRepositorySmall(true, 100);
}

// Objects only state.json names (a conflict's commits, a journaled merge's local tree) are
// kept like those of refs; objects nothing names are pruned.
BOOST_AUTO_TEST_CASE(maintenance_keeps_what_refs_and_state_json_name_and_prunes_the_rest) {
  Binding f(Served::kFile);
  f.WriteLocal("a.yaml", "a: 1\n");
  f.Sync();
  std::string conflict_commit, conflict_parent, pending_tree_blob, garbage_commit, garbage_blob, ref_commit;
  {
    RepositoryPtr repo = OpenRepo(RepoDir(f));
    conflict_parent = WriteCommit(repo.get(), "c.yaml", "conflict parent\n");
    conflict_commit = WriteCommit(repo.get(), "c.yaml", "conflict side\n", conflict_parent);
    std::string tree_commit = WriteCommit(repo.get(), "p.yaml", "pending local\n");
    pending_tree_blob = WriteBlob(repo.get(), "pending local\n");
    garbage_commit = WriteCommit(repo.get(), "g.yaml", "garbage\n");
    garbage_blob = WriteBlob(repo.get(), "nobody needs me\n");
    ref_commit = WriteCommit(repo.get(), "r.yaml", "kept by a ref\n");
    SetRef(repo.get(), "refs/gitsyncd/test-keep", ref_commit);
    BindingState state = f.State();
    ConflictRecord record;
    record.branch = "gitsyncd/conflicts/app/test";
    record.commit = conflict_commit;
    state.conflicts.push_back(record);
    std::string tree = Git({"--git-dir", RepoDir(f), "rev-parse", tree_commit + "^{tree}"}).out;
    state.pending_local_tree = tree.substr(0, 40);
    BOOST_REQUIRE(SaveBindingState(f.spec.binding_dir, state).ok());
  }
  auto report = MaintainRepository(f.spec.binding_dir, f.spec.shared_store, /*force=*/true);
  BOOST_REQUIRE_MESSAGE(report.ok(), report.status().message());
  BOOST_TEST(report->ran);
  ObjectStoreCounts after = CountObjectStore(RepoDir(f));
  BOOST_TEST(after.packs == 1u);
  BOOST_TEST(after.loose == 0u);
  for (const auto& id : {conflict_commit, conflict_parent, pending_tree_blob, ref_commit, f.State().last_synced_commit}) {
    BOOST_TEST(HasObject(RepoDir(f), id), id);
  }
  BOOST_TEST(!HasObject(RepoDir(f), garbage_commit));
  BOOST_TEST(!HasObject(RepoDir(f), garbage_blob));
  ExpectFsckClean(RepoDir(f), "after maintenance");
  // The binding syncs on as before.
  f.WriteLocal("b.yaml", "b: 2\n");
  f.Sync();
  BOOST_TEST(f.Remote("config/b.yaml") == "b: 2\n");
}

// The packs of a store (sync/shared_store.h), "<name>.pack" -> bytes.
std::map<std::string, uintmax_t> Packs(const std::string& repo) {
  std::map<std::string, uintmax_t> out;
  for (const auto& e : fs::directory_iterator(repo + "/objects/pack")) {
    if (e.path().extension() == ".pack") out[e.path().filename().string()] = e.file_size();
  }
  return out;
}

// A store's maintenance is geometric (as `git repack --geometric=2`): the small packs recent
// fetches left are rolled into one, and the packs of older history, each at least twice the
// size of all that is newer, are left as they are. The work follows what arrived lately, not
// the size of the history, and nothing is lost.
BOOST_AUTO_TEST_CASE(a_store_maintenance_rolls_the_small_recent_packs_into_one_and_leaves_the_older_large_ones) {
  EnsureLibgit2();
  TempDir dir;
  std::string src = dir / "src.git", store = dir / "store.git";
  InitBareRepo(src);
  InitBareRepo(store);
  Git({"--git-dir", store, "config", "fetch.unpackLimit", "1"});  // every fetch keeps its pack
  auto fetch_new_commits = [&](int from, int to) {
    RepositoryPtr repo = OpenRepo(src);
    std::string head = from == 0 ? "" : Git({"--git-dir", src, "rev-parse", "main"}).out.substr(0, 40);
    for (int i = from; i < to; ++i) {
      head = WriteCommit(repo.get(), "f" + std::to_string(i % 7) + ".yaml",
                         "n: " + std::to_string(i) + "\n" + std::string(200, static_cast<char>('a' + i % 26)) + "\n", head);
    }
    SetRef(repo.get(), "refs/heads/main", head);
    Git({"--git-dir", store, "fetch", "--quiet", "file://" + src, "+main:refs/heads/main"});
  };
  fetch_new_commits(0, 400);    // the old history
  fetch_new_commits(400, 500);  // a later batch, less than half of it
  std::map<std::string, uintmax_t> older = Packs(store);
  BOOST_REQUIRE(older.size() == 2u);
  for (int i = 0; i + 2 <= static_cast<int>(kMaxPacks); ++i) fetch_new_commits(500 + i, 501 + i);
  BOOST_REQUIRE(Packs(store).size() == kMaxPacks + 1);
  std::string objects_before = Git({"--git-dir", store, "rev-list", "--objects", "--all"}).out;

  auto report = ConsolidateSharedStore(store);
  BOOST_REQUIRE_MESSAGE(report.ok(), report.status().message());
  BOOST_TEST(report->ran);
  BOOST_TEST(!report->full);
  std::map<std::string, uintmax_t> after = Packs(store);
  BOOST_TEST(after.size() == 3u);
  for (const auto& [name, bytes] : older) BOOST_TEST(after.count(name) == 1u, name << " was rewritten");
  BOOST_TEST(report->packed < 30u, "only the recent packs' objects are rewritten, not " << report->packed);
  BOOST_TEST(Git({"--git-dir", store, "rev-list", "--objects", "--all"}).out == objects_before);
  ExpectFsckClean(store, "after the store's maintenance");
}

// A child process commits, writes garbage and maintains the repository in a loop; it is killed
// with SIGKILL at random moments. After every kill the repository is whole (`git fsck`), every
// commit a ref or state.json names is there, and the next maintenance clears what the kill
// left behind.
BOOST_AUTO_TEST_CASE(a_kill_at_any_moment_of_maintenance_leaves_a_valid_repository_with_every_needed_object) {
  Binding f(Served::kFile);
  for (int i = 0; i < 200; ++i) f.WriteLocal("dir" + std::to_string(i % 10) + "/f" + std::to_string(i) + ".yaml", "v: " + std::to_string(i) + "\n");
  f.Sync();
  std::string synced = f.State().last_synced_commit;
  std::mt19937 rng(12345);
  for (int round = 0; round < 25; ++round) {
    pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      // Never back into the test framework: a failure here ends the child with a code.
      try {
        // A kill of the previous child inside SetRef leaves the ref's lock behind, as a
        // killed daemon would; the daemon removes stale locks when it opens the repository.
        std::filesystem::remove(RepoDir(f) + "/refs/gitsyncd/kill-test.lock");
        RepositoryPtr repo = OpenRepo(RepoDir(f));
        std::string head = synced;
        for (int i = 0;; ++i) {
          std::string tag = std::to_string(round) + "-" + std::to_string(i);
          head = WriteCommit(repo.get(), "f.yaml", "round " + tag + "\n", head);
          SetRef(repo.get(), "refs/gitsyncd/kill-test", head);
          for (int g = 0; g < 30; ++g) WriteBlob(repo.get(), "garbage " + tag + " " + std::to_string(g) + "\n");
          auto done = MaintainRepository(f.spec.binding_dir, f.spec.shared_store, i % 2 == 0);
          if (!done.ok()) {
            std::fprintf(stderr, "maintenance failed: %s\n", done.status().message().c_str());
            ::_exit(3);
          }
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child failed: %s\n", e.what());
      } catch (...) {
        std::fprintf(stderr, "child failed: %s\n", git_error_last() ? git_error_last()->message : "?");
      }
      ::_exit(4);
    }
    ::usleep(std::uniform_int_distribution<int>(5000, 150000)(rng));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    BOOST_REQUIRE_MESSAGE(WIFSIGNALED(status), "the maintaining child ended by itself: " + std::to_string(status));
    ExpectFsckClean(RepoDir(f), "after kill " + std::to_string(round));
    BOOST_TEST(HasObject(RepoDir(f), f.State().last_synced_commit));
    CommandResult kept = Git({"--git-dir", RepoDir(f), "rev-parse", "--verify", "-q", "refs/gitsyncd/kill-test"}, "", {}, true);
    if (kept.exit_code == 0) BOOST_TEST(HasObject(RepoDir(f), kept.out.substr(0, 40)));
  }
  auto report = MaintainRepository(f.spec.binding_dir, f.spec.shared_store, /*force=*/true);
  BOOST_REQUIRE_MESSAGE(report.ok(), report.status().message());
  for (const auto& e : fs::directory_iterator(RepoDir(f) + "/objects/pack")) {
    std::string name = e.path().filename().string();
    BOOST_TEST((name.rfind("pack-", 0) == 0 && (e.path().extension() == ".pack" || e.path().extension() == ".idx")),
               "left behind: " + name);
  }
  BOOST_TEST(CountObjectStore(RepoDir(f)).packs == 1u);
  ExpectFsckClean(RepoDir(f), "at the end");
  f.WriteLocal("after.yaml", "synced after the kills\n");
  f.Sync();
  BOOST_TEST(f.Remote("config/after.yaml") == "synced after the kills\n");
}

BOOST_AUTO_TEST_SUITE_END()
