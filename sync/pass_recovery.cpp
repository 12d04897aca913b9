// What a pass does first: clean up after a kill -9 (stale locks, refs naming unstored
// commits), and finish a merge whose push landed before the folder was written.
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <vector>

#include "sync/binding_repo.h"
#include "sync/folder_fd.h"
#include "sync/object_buffer.h"
#include "sync/pass_context.h"

namespace gitsyncd::pass {
namespace {

namespace fs = std::filesystem;

// HEAD, not fsynced (a flush costs about a millisecond, and a first start makes one
// repository per binding): libgit2 needs the file to be there but nothing here reads it, and
// OpenRepo writes it again when a crash left it empty.
Status WriteHead(const std::string& repo_dir) {
  std::string path = repo_dir + "/HEAD";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  static constexpr std::string_view kHead = "ref: refs/heads/main\n";
  if (!fd || ::write(fd.get(), kHead.data(), kHead.size()) != static_cast<ssize_t>(kHead.size())) {
    return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

// A bare repository holding only what libgit2 and git need to open it: HEAD, objects/ and
// refs/ (objects/pack too when no shared store holds the fetched objects). No description,
// hooks/, info/exclude, refs/heads/ or refs/tags/, no objects/info/alternates (the store is
// attached at open, sync/binding_repo.h), and a config only without a store, once the ignore
// matcher writes its settings (sync/ignore_matcher.cpp): each costs a 4 KiB block per
// binding (docs/sync.md, "10,000 bindings on paper"), and libgit2's defaults for a bare
// repository without a config (no reflogs) are what a binding wants. Made under a temporary
// name and renamed into place, so a kill leaves no half-made repository at `path`.
Status CreateMinimalRepo(const std::string& path, bool with_pack_dir) {
  std::string tmp = path + ".new";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp + (with_pack_dir ? "/objects/pack" : "/objects"), ec);
  if (!ec) fs::create_directory(tmp + "/refs", ec);
  if (ec) return Status::IoError("cannot create " + tmp + ": " + ec.message());
  Status head = WriteHead(tmp);
  if (!head.ok()) return head;
  if (::rename(tmp.c_str(), path.c_str()) != 0 && errno != ENOTEMPTY && errno != EEXIST) {
    return Status::IoError("cannot create " + path + ": " + std::strerror(errno));
  }
  fs::remove_all(tmp, ec);  // left only when another repository was there first
  return Status::Ok();
}

// A repository made before bindings stopped keeping these refs beside a shared store: its
// refs would pin what they name and keep their folders. Removing them changes nothing a
// pass reads (the store holds what they name; state.json names the synced commit).
void RemoveRefsTheStoreKeeps(git_repository* repo, const std::string& repo_dir) {
  std::error_code ec;
  if (!fs::exists(repo_dir + "/refs/remotes", ec) && !fs::exists(repo_dir + "/refs/gitsyncd/synced", ec)) return;
  std::vector<std::string> names;
  git_reference_iterator* raw = nullptr;
  if (git_reference_iterator_new(&raw, repo) < 0) return;
  ReferenceIteratorPtr it(raw);
  for (git_reference* ref = nullptr; git_reference_next(&ref, it.get()) == 0;) {
    ReferencePtr owned(ref);
    std::string name = git_reference_name(ref);
    if (name == "refs/gitsyncd/synced" || name.rfind("refs/remotes/", 0) == 0) names.push_back(name);
  }
  for (const auto& name : names) {
    if (int rc = git_reference_remove(repo, name.c_str()); rc < 0) {
      spdlog::warn("{}", GitError(rc, "cannot remove " + name + " from " + repo_dir).message());
    }
  }
  fs::remove(repo_dir + "/refs/remotes", ec);  // libgit2 leaves it, empty; a folder still in use stays
  fs::remove(repo_dir + "/refs/gitsyncd", ec);
}

// A repository made by git_repository_init (before CreateMinimalRepo) holds its template:
// files and empty folders nothing here reads, a 4 KiB block each. Removed once; a folder
// that is not empty stays. objects/pack goes only beside a shared store (which receives the
// fetches; the maintenance makes it again when it needs it).
void RemoveInitTemplate(const std::string& repo_dir, bool shared) {
  std::error_code ec;
  if (!fs::exists(repo_dir + "/description", ec)) return;
  for (const char* f : {"hooks/README.sample", "info/exclude", "hooks", "info", "refs/heads", "refs/tags"}) {
    fs::remove(fs::path(repo_dir) / f, ec);
  }
  if (shared) fs::remove(repo_dir + "/objects/pack", ec);
  fs::remove(repo_dir + "/description", ec);
}

// What a repository beside a store held before the store was attached at open time and the
// ignore settings moved to the store's config: `objects/info/alternates` (with its folder)
// and `config`, three 4 KiB blocks per binding. Nothing reads them any more, and each is
// removed on its own, so a kill between two removals leaves a state dir the next open trims
// further (tests/sync/shared_store_test.cpp, a_migration_interrupted_at_each_step_...).
void RemoveFilesTheStoreReplaces(const std::string& repo_dir) {
  std::error_code ec;
  for (const char* f : {"objects/info/alternates", "objects/info", "config"}) fs::remove(fs::path(repo_dir) / f, ec);
}

}  // namespace

Result<RepositoryPtr> OpenRepo(const std::string& binding_dir, const std::string& shared_store) {
  EnsureLibgit2();
  std::string path = BindingRepoDir(binding_dir);
  // Passes of one binding never overlap and its repository is this daemon's alone: a lock
  // seen when a pass starts is stale.
  RemoveStaleLocks(path);
  struct stat head {};
  if (::stat((path + "/HEAD").c_str(), &head) == 0 && head.st_size == 0) {
    Status rewritten = WriteHead(path);
    if (!rewritten.ok()) return rewritten;
  }
  auto repo = OpenBindingRepo(binding_dir, shared_store);
  if (!repo.ok() && repo.status().code() == Status::Code::kNotFound) {
    std::error_code ec;
    fs::create_directories(binding_dir, ec);
    Status made = CreateMinimalRepo(path, shared_store.empty());
    if (!made.ok()) return made;
    repo = OpenBindingRepo(binding_dir, shared_store);
  }
  if (!repo.ok()) return repo.status();
  RemoveInitTemplate(path, !shared_store.empty());
  if (!shared_store.empty()) {
    RemoveFilesTheStoreReplaces(path);
    RemoveRefsTheStoreKeeps(repo->get(), path);
  }
  RemoveDanglingRefs(repo->get());
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
