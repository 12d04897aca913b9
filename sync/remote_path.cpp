#include "sync/remote_path.h"

#include <set>
#include <string_view>

#include "sync/git_handles.h"

namespace gitsyncd {
namespace {

Status CheckTree(git_repository* repo, const git_tree* tree, const std::string& prefix, size_t depth) {
  if (depth > kMaxRemoteDepth) {
    return UnsafeRemotePath(prefix, "nested deeper than " + std::to_string(kMaxRemoteDepth) + " folders");
  }
  std::set<std::string_view> seen;
  size_t n = git_tree_entrycount(tree);
  for (size_t i = 0; i < n; ++i) {
    const git_tree_entry* e = git_tree_entry_byindex(tree, i);
    std::string_view name = git_tree_entry_name(e);
    std::string path = prefix.empty() ? std::string(name) : prefix + "/" + std::string(name);
    if (auto why = RemoteNameProblem(name)) return UnsafeRemotePath(path, *why);
    if (path.size() > kMaxRemotePathBytes) {
      return UnsafeRemotePath(path, "longer than " + std::to_string(kMaxRemotePathBytes) + " bytes");
    }
    if (!seen.insert(name).second) return UnsafeRemotePath(path, "two entries of this name in one folder");
    if (git_tree_entry_type(e) != GIT_OBJECT_TREE) continue;
    git_tree* sub = nullptr;
    int rc = git_tree_lookup(&sub, repo, git_tree_entry_id(e));
    if (rc < 0) return GitError(rc, "cannot read tree " + path);
    TreePtr owned(sub);
    Status s = CheckTree(repo, sub, path, depth + 1);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Status CheckRemoteTree(git_repository* repo, const git_tree* tree) {
  if (tree == nullptr) return Status::Ok();
  return CheckTree(repo, tree, "", 0);
}

Status RefusedCommit(const std::string& branch, const std::string& commit, const Status& problem) {
  return Status::Error(problem.code(), "commit " + commit + " on branch " + branch + " is refused: " +
                                           problem.message() +
                                           "; nothing of it is applied or pushed, and the folder follows the "
                                           "branch again once a later commit removes it");
}

}  // namespace gitsyncd
