// What a pass does first: clean up after a kill -9 (stale locks, refs naming unstored
// commits), and finish a merge whose push landed before the folder was written.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "sync/object_buffer.h"
#include "sync/pass_context.h"
#include "sync/shared_store.h"

namespace gitsyncd::pass {
namespace {

namespace fs = std::filesystem;

// A kill -9 while libgit2 writes a ref, the index or the config leaves its "<file>.lock"
// behind, and every later write of that file fails. Passes of one binding never overlap and
// the binding's repository belongs to this daemon alone, so a lock seen when a pass starts
// is stale: remove it (the file it guarded was never replaced, so nothing is lost).
void RemoveStaleLocks(const std::string& repo_dir) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const char* top : {"HEAD.lock", "index.lock", "packed-refs.lock", "config.lock", "shallow.lock"}) {
    if (fs::exists(fs::path(repo_dir) / top, ec)) stale.push_back(fs::path(repo_dir) / top);
  }
  for (auto it = fs::recursive_directory_iterator(fs::path(repo_dir) / "refs", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().extension() == ".lock") stale.push_back(it->path());
  }
  for (const auto& f : stale) {
    spdlog::warn("removing stale lock {} (left by an interrupted run)", f.string());
    fs::remove(f, ec);
  }
}

}  // namespace

Result<RepositoryPtr> OpenRepo(const std::string& binding_dir, const std::string& shared_store) {
  EnsureLibgit2();
  std::string path = binding_dir + "/repo";
  RemoveStaleLocks(path);
  git_repository* raw = nullptr;
  int rc = git_repository_open_bare(&raw, path.c_str());
  if (rc == GIT_ENOTFOUND) {
    std::error_code ec;
    fs::create_directories(binding_dir, ec);
    rc = git_repository_init(&raw, path.c_str(), 1);
  }
  if (rc < 0) return GitError(rc, "cannot open the binding's repository " + path);
  RepositoryPtr repo(raw);
  if (!shared_store.empty()) {
    // The alternates are read when the repository first reads an object: one written now
    // is seen only by a repository opened afterwards.
    auto attached = AttachSharedStore(path, shared_store);
    if (!attached.ok()) return attached.status();
    if (*attached) {
      repo.reset();
      raw = nullptr;
      if ((rc = git_repository_open_bare(&raw, path.c_str())) < 0) {
        return GitError(rc, "cannot open the binding's repository " + path);
      }
      repo.reset(raw);
    }
  }
  RemoveDanglingRefs(repo.get());
  return repo;
}

// A merge was pushed but the process may have died before the folder was updated. If the
// remote head is that merge, finish the job; otherwise forget it (the push never landed).
Result<bool> Pass::RecoverPending(const std::optional<git_oid>& remote_head, const FlatTree& scanned,
                                  const FlatTree& remote) {
  auto pending = ParseOid(state_->pending_commit);
  auto local_tree = ParseOid(state_->pending_local_tree);
  state_->pending_commit.clear();
  state_->pending_local_tree.clear();
  if (!pending || !local_tree || !remote_head || !git_oid_equal(&*pending, &*remote_head)) {
    Status s = SaveBindingState(spec_.binding_dir, *state_);
    if (!s.ok()) return s;
    return false;
  }
  auto tree = LookupTree(repo_, *local_tree);
  if (!tree.ok()) return tree.status().WithContext("cannot read the journaled local tree");
  // What the folder held when the merge was made: files still like that are ours to update.
  auto flat = FlattenTree(tree->get());
  if (!flat.ok()) return flat.status().WithContext("cannot read the journaled local tree");
  FlatTree before = std::move(*flat);
  // Files changed since the merge keep their new content: treat the current scan as "seen"
  // only where it matches the journaled tree.
  FlatTree seen = before;
  for (const auto& [p, e] : scanned) {
    auto it = before.find(p);
    if (it != before.end() && !(it->second == e)) seen.erase(p);
  }
  ApplyReport report;
  Status s = ApplyFolder(seen, remote, &report);
  if (!s.ok()) return s;
  s = SaveSynced(*remote_head);
  if (!s.ok()) return s;
  return true;
}

}  // namespace gitsyncd::pass
