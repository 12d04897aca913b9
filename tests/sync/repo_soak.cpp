#include "tests/sync/repo_soak.h"

#include <git2.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>

#include "sync/binding_state.h"
#include "sync/git_handles.h"
#include "sync/remote_auth.h"
#include "sync/repo_maintenance.h"
#include "sync/shared_store.h"
#include "sync/sync_pass.h"
#include "tests/support/git_cli.h"
#include "tests/support/git_servers.h"

namespace gitsyncd::testing {
namespace {

using Clock = std::chrono::steady_clock;

void Check(int rc, const char* what) {
  if (rc < 0) throw std::runtime_error(std::string(what) + " failed");
}

// Someone else's push, written straight into the remote's repository (what a push leaves
// there, without a git process per edit): config/<file> = `text` on top of main.
void RemoteEdit(const std::string& bare, const std::string& file, const std::string& text, const std::string& message) {
  git_repository* raw = nullptr;
  Check(git_repository_open_bare(&raw, bare.c_str()), "open the remote");
  RepositoryPtr repo(raw);
  git_oid head_id, blob, tree_id, commit_id;
  Check(git_reference_name_to_id(&head_id, raw, "refs/heads/main"), "read main");
  git_commit* head = nullptr;
  Check(git_commit_lookup(&head, raw, &head_id), "read the head");
  CommitPtr owned_head(head);
  git_tree* base = nullptr;
  Check(git_commit_tree(&base, head), "read the head's tree");
  TreePtr owned_base(base);
  Check(git_blob_create_from_buffer(&blob, raw, text.data(), text.size()), "write a blob");
  std::string path = "config/" + file;
  git_tree_update update{GIT_TREE_UPDATE_UPSERT, blob, GIT_FILEMODE_BLOB, path.c_str()};
  Check(git_tree_create_updated(&tree_id, raw, base, 1, &update), "write a tree");
  git_tree* tree = nullptr;
  Check(git_tree_lookup(&tree, raw, &tree_id), "read the tree");
  TreePtr owned_tree(tree);
  git_signature* sig = nullptr;
  Check(git_signature_now(&sig, "Person", "person@example.com"), "signature");
  SignaturePtr owned_sig(sig);
  const git_commit* parents[] = {head};
  Check(git_commit_create(&commit_id, raw, nullptr, sig, sig, nullptr, message.c_str(), tree, 1, parents), "commit");
  git_reference* ref = nullptr;
  Check(git_reference_create_matching(&ref, raw, "refs/heads/main", &commit_id, 1, &head_id, message.c_str()),
        "move main");
  git_reference_free(ref);
}

// `git fsck --full` exits 0 and reports nothing missing or broken (dangling objects are
// information, not damage); "" when clean.
// `env`: for a binding's repository, its shared store (BindingRepoEnv).
std::string FsckProblems(const std::string& repo, const std::map<std::string, std::string>& env = {}) {
  CommandResult fsck = Git({"--git-dir", repo, "fsck", "--full", "--no-progress"}, "", env, true);
  std::string all = fsck.out + fsck.err;
  for (const char* bad : {"missing", "broken", "error", "corrupt"}) {
    if (fsck.exit_code != 0 || all.find(bad) != std::string::npos) return "git fsck of " + repo + ": " + all;
  }
  return "";
}

uint64_t MirrorBytes(const std::string& bare, const std::string& into) {
  RunCommand({"rm", "-rf", into});
  Git({"clone", "--quiet", "--mirror", "file://" + bare, into});
  return CountObjectStore(into).bytes;
}

struct Soak {
  const RepoSoakOptions& options;
  RepoSoakReport report;
  TempDir dir;
  std::unique_ptr<GitHttpsServer> server;
  std::string bare;
  BindingSpec spec;
  std::map<std::string, std::string> expected;  // file -> its last edit
  std::vector<std::string> lost_sides;          // local sides of true conflicts

  explicit Soak(const RepoSoakOptions& o) : options(o) {
    spec.name = "app";
    spec.branch = "main";
    spec.path = "config";
    spec.local = dir / "local";
    spec.binding_dir = dir / "state/bindings/app";
    spec.author = {"Sync Bot", "bot@example.com"};
    if (!options.https) {
      bare = dir / "remote.git";
      InitBareRepo(bare);
      spec.remote.url = "file://" + bare;
      UseSharedStore();
      return;
    }
    server = std::make_unique<GitHttpsServer>();
    server->CreateBareRepo("cfg");
    bare = server->repo_path("cfg");
    spec.remote.url = server->url("cfg");
    spec.remote.username = server->user();
    spec.remote.password = server->password();
    if (!ConfigureTls(server->ca_file()).ok()) throw std::runtime_error("cannot configure TLS");
    UseSharedStore();
  }

  // As the daemon runs a binding (sync_pass.cpp, MakeBindingSpec): fetches go into the
  // remote's shared store, the binding's repository keeps its own commits.
  void UseSharedStore() {
    if (options.shared_store) spec.shared_store = SharedStoreDir(dir / "state", spec.remote.url);
  }

  // The binding's repository and the store together: what the binding costs on disk.
  ObjectStoreCounts Counts() const {
    ObjectStoreCounts own = CountObjectStore(spec.binding_dir + "/repo");
    if (spec.shared_store.empty()) return own;
    ObjectStoreCounts store = CountObjectStore(spec.shared_store);
    return {std::max(own.packs, store.packs), std::max(own.loose, store.loose), own.bytes + store.bytes};
  }

  void Fail(int pass, const std::string& what) { report.failures.push_back("pass " + std::to_string(pass) + ": " + what); }

  // One round: the edits, then the pass, then the counts.
  void Round(int i) {
    std::string n = std::to_string(i);
    int kind = i % 4;  // 0 local, 1 remote, 2 both (other files), 3 both (a conflict every 40)
    bool conflict = kind == 3 && i % 40 == 3;
    std::string local_file = "local" + std::to_string(i % 5) + ".yaml";
    std::string remote_file = conflict ? local_file : "remote" + std::to_string(i % 5) + ".yaml";
    if (kind != 1) {
      std::string text = "key: local " + n + "\n";
      WriteFile(spec.local + "/" + local_file, text);
      expected[local_file] = text;
      if (conflict) lost_sides.push_back(text);
    }
    if (kind != 0) {
      std::string text = "key: remote " + n + "\n";
      RemoteEdit(bare, remote_file, text, "remote edit " + n);
      expected[remote_file] = text;  // keep-both: the remote side stays in the folder
    }
    ObjectStoreCounts before = Counts();
    auto started = Clock::now();
    auto r = RunSyncPass(spec);
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    if (!r.ok()) Fail(i, "the pass failed: " + r.status().message());
    ObjectStoreCounts now = Counts();
    report.pass_ms.push_back(ms);
    if (now.packs < before.packs || now.loose + 50 < before.loose) {
      ++report.maintained;
      report.maintained_pass_ms.push_back(ms);
    }
    report.max_packs = std::max(report.max_packs, now.packs);
    report.max_loose = std::max(report.max_loose, now.loose);
    if (now.packs > kMaxPacks || now.loose > kMaxLoose) {
      Fail(i, std::to_string(now.packs) + " packs and " + std::to_string(now.loose) + " loose objects");
    }
    report.passes = i + 1;
    if (report.passes == std::max(1, options.passes / 10)) report.heap_after_warmup = mallinfo2().uordblks;
    if (report.passes == options.passes) report.heap_at_end = mallinfo2().uordblks;
    if (options.checkpoint_every > 0 && report.passes % options.checkpoint_every == 0) Checkpoint(now);
  }

  void Checkpoint(const ObjectStoreCounts& now) {
    RepoSoakRow row{report.passes, now.packs, now.loose, now.bytes, MirrorBytes(bare, dir / "mirror.git"),
                    mallinfo2().uordblks};
    report.rows.push_back(row);
    if (options.verbose) {
      std::fprintf(stderr, "%d passes: %zu packs, %zu loose, %llu bytes (mirror %llu), heap %zu KiB\n", row.passes,
                   row.packs, row.loose, static_cast<unsigned long long>(row.store_bytes),
                   static_cast<unsigned long long>(row.mirror_bytes), row.heap_bytes / 1024);
    }
  }

  // Nothing lost, both repositories whole, and the size against a fresh mirror clone.
  void Verify() {
    int end = report.passes;
    for (const auto& [file, text] : expected) {
      if (ReadFile(spec.local + "/" + file) != text) Fail(end, "the folder lost " + file + " = " + text);
      if (ShowFile(bare, "main", "config/" + file) != text) Fail(end, "the branch lost " + file + " = " + text);
    }
    std::set<std::string> on_conflict_branches;  // every local*.yaml text on one
    for (const auto& b : Branches(bare)) {
      if (b.rfind("gitsyncd/conflicts/", 0) != 0) continue;
      for (int k = 0; k < 5; ++k) on_conflict_branches.insert(ShowFile(bare, b, "config/local" + std::to_string(k) + ".yaml"));
    }
    for (const auto& text : lost_sides) {
      if (on_conflict_branches.count(text) == 0) Fail(end, "no conflict branch holds the local side " + text);
    }
    auto state = LoadBindingState(spec.binding_dir);
    if (!state.ok()) Fail(end, state.status().message());
    if (state.ok()) report.conflicts = static_cast<int>(state->conflicts.size());
    std::vector<std::string> repos{bare};
    if (!spec.shared_store.empty()) repos.push_back(spec.shared_store);
    for (const auto& repo : repos) {
      if (std::string problems = FsckProblems(repo); !problems.empty()) Fail(end, problems);
    }
    if (std::string problems = FsckProblems(spec.binding_dir + "/repo", BindingRepoEnv(dir / "state"));
        !problems.empty()) {
      Fail(end, problems);
    }
    report.store_bytes = Counts().bytes;
    report.mirror_bytes = MirrorBytes(bare, dir / "mirror.git");
  }
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

RepoSoakReport RunRepoSoak(const RepoSoakOptions& options) {
  auto started = Clock::now();
  EnsureLibgit2();
  Soak soak(options);
  try {
    WriteFile(soak.spec.local + "/seed.yaml", "seed: 1\n");
    soak.expected["seed.yaml"] = "seed: 1\n";
    if (auto r = RunSyncPass(soak.spec); !r.ok()) soak.Fail(0, r.status().message());
    for (int i = 0; i < options.passes; ++i) soak.Round(i);
    soak.Verify();
  } catch (const std::exception& e) {
    soak.Fail(soak.report.passes, e.what());
  }
  soak.report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return soak.report;
}

std::string RepoSoakTable(const RepoSoakReport& r, const RepoSoakOptions& options) {
  std::ostringstream out;
  out << "| passes | packs | loose objects | object store (KiB) | fresh mirror clone (KiB) | ratio | heap in use (KiB) |\n"
      << "|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& x : r.rows) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.2f",
                  x.mirror_bytes > 0 ? static_cast<double>(x.store_bytes) / static_cast<double>(x.mirror_bytes) : 0.0);
    out << "| " << x.passes << " | " << x.packs << " | " << x.loose << " | " << x.store_bytes / 1024 << " | "
        << x.mirror_bytes / 1024 << " | " << ratio << " | " << x.heap_bytes / 1024 << " |\n";
  }
  char summary[768];
  std::snprintf(summary, sizeof summary,
                "\n%s remote, %s, %d passes in %.0f s: maintenance ran after %d of them; at most %zu packs and %zu loose "
                "objects after any pass (limits %zu and %zu); %d conflicts; pass p50 %.0f ms, p99 %.0f ms; passes that "
                "ran maintenance p50 %.0f ms, max %.0f ms; end: %llu KiB against a fresh mirror clone of %llu KiB; "
                "heap in use %zu KiB after the first tenth of the passes, %zu KiB after the last",
                options.https ? "nginx HTTPS" : "file://",
                options.shared_store ? "counts of the shared store and the binding's repository (packs, loose: the "
                                       "larger; KiB: both)"
                                     : "the binding's own repository",
                r.passes, r.seconds, r.maintained, r.max_packs, r.max_loose,
                kMaxPacks, kMaxLoose, r.conflicts, Percentile(r.pass_ms, 0.5), Percentile(r.pass_ms, 0.99),
                Percentile(r.maintained_pass_ms, 0.5), Percentile(r.maintained_pass_ms, 1.0),
                static_cast<unsigned long long>(r.store_bytes / 1024), static_cast<unsigned long long>(r.mirror_bytes / 1024),
                r.heap_after_warmup / 1024, r.heap_at_end / 1024);
  out << summary;
  return out.str();
}

}  // namespace gitsyncd::testing
