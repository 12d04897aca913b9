// What changed in a synced folder since its last synced commit, found by looking only where
// something changed: on the local side the paths the folder watcher reported, on the remote
// side the subtrees whose ids differ. Both cost what the change costs, not what the folder
// holds, so a one-file edit in a 20,000-file folder is as cheap as in a 100-file one.
#pragma once

#include <git2.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "sync/folder_tree.h"

namespace gitsyncd {

struct PathChange {
  std::string path;                // relative to the folder
  std::optional<FileEntry> before;  // nullopt: did not exist
  std::optional<FileEntry> after;   // nullopt: deleted
};
using ChangeList = std::vector<PathChange>;  // sorted by path, one entry per path

// The local changes at `hinted` paths (files or folders relative to `folder`) against `base`,
// the folder's tree at the last synced commit (null = empty). Changed files are stored as
// blobs in `repo`. nullopt when a hinted path holds something that only a full scan handles
// and reports (a symlink, a special file, a `.git` entry, a file over `max_file_size`, a
// symlink on the way to it, a symlink or submodule in `base`): the caller scans in full.
Result<std::optional<ChangeList>> LocalChangesAt(git_repository* repo, const std::string& folder, const git_tree* base,
                                                 const std::set<std::string>& hinted, uint64_t max_file_size);

// The changes from folder tree `from` to `to` (either may be null); subtrees with equal ids
// are skipped without being read. `to` comes from the remote: a changed entry whose name the
// remote path check refuses (remote_path.h) is Status::Corrupted naming the path.
Result<ChangeList> DiffFolderTrees(git_repository* repo, const git_tree* from, const git_tree* to);

// True when every change is to a file or symlink-free regular entry and no changed path is
// inside another changed path (a file turned into a folder or back), i.e. the list can be
// applied to a tree entry by entry.
bool IsSimpleChangeList(const ChangeList& changes);

// The root tree of `commit` with `changes` applied to the folder at `path`: only the trees
// along the changed paths are rewritten. Needs IsSimpleChangeList(changes).
Result<git_oid> UpdateTreeOfCommit(git_repository* repo, const git_oid& commit, const std::string& path,
                                   const ChangeList& changes);

// The objects a commit made by UpdateTreeOfCommit added: the commit, its root tree, the trees
// along each changed path under `path`, and the changed files' blobs.
Result<std::vector<git_oid>> ObjectsOfCommit(git_repository* repo, const git_oid& commit, const git_oid& root_tree,
                                             const std::string& path, const ChangeList& changes);

// "A path" / "M path" / "D path" lines, with `prefix` before each path.
std::vector<std::string> DescribeChanges(const ChangeList& changes, const std::string& prefix);

}  // namespace gitsyncd
