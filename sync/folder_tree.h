// A folder's content as Git sees it: a flat map from relative path to (blob id, mode).
// Reads local folders into blobs and converts between flat maps, Git trees and commits.
// Applying a tree to a folder: folder_apply.h.
#pragma once

#include <git2.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "sync/git_handles.h"

namespace gitsyncd {

class IgnoreMatcher;  // sync/ignore_matcher.h

struct FileEntry {
  git_oid oid{};
  uint32_t mode = GIT_FILEMODE_BLOB;  // BLOB, BLOB_EXECUTABLE; LINK/COMMIT only from remote trees
  bool operator==(const FileEntry& o) const { return mode == o.mode && git_oid_equal(&oid, &o.oid); }
};
using FlatTree = std::map<std::string, FileEntry>;

// Limits on what a synced folder may hold (the size of one file: max_file_size, config.h).
inline constexpr size_t kMaxFiles = 100000;

// What a previous scan learned about each file, so unchanged files are not read again: a file
// whose size, mtime, inode and mode match, and whose mtime is safely in the past (not "racy"),
// reuses its blob id. Persisted per binding; losing it only costs a full re-read.
struct ScanCacheEntry {
  int64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  uint32_t mode = 0;
  git_oid oid{};
};
struct ScanCache {
  std::map<std::string, ScanCacheEntry> entries;
  bool dirty = false;
};
ScanCache LoadScanCache(const std::string& file);
Status SaveScanCache(const std::string& file, const ScanCache& cache);

// Reads the folder into blobs of `repo`. Symlinks, `.git` entries and special files are
// skipped and described in `skipped` ("symlink a/b: not synced"); every other file is synced,
// whatever its name, unless `ignore` ignores it. Nothing is ever followed through a symlink. A file larger than
// `max_file_size` (when scanned, or grown while being read) is left out, described in `skipped`
// and its path added to `too_large` (may be null): it is not a deletion. `cache` may be null.
// A file or folder `ignore` (may be null) ignores is left out silently and never read.
Result<FlatTree> ScanFolder(git_repository* repo, const std::string& folder, std::vector<std::string>* skipped,
                            ScanCache* cache, uint64_t max_file_size, std::set<std::string>* too_large = nullptr,
                            IgnoreMatcher* ignore = nullptr);

// The same for the folder `rel` beneath the open folder `folder_fd` (see folder_fd.h), without
// a cache; paths are relative to `rel`.
Result<FlatTree> ScanFolderBeneath(git_repository* repo, int folder_fd, const std::string& rel,
                                   std::vector<std::string>* skipped, uint64_t max_file_size,
                                   std::set<std::string>* too_large = nullptr);

// The files under `path` of `commit` (null commit = empty). Paths are relative to `path`.
Result<FlatTree> SubtreeOfCommit(git_repository* repo, const git_oid* commit, const std::string& path);

// The tree `id`, or why it cannot be read.
Result<TreePtr> LookupTree(git_repository* repo, const git_oid& id);

// The folder's own tree at `path` of `commit` (the root tree for path ""); a null TreePtr
// when the commit is null or holds no folder there.
Result<TreePtr> FolderTreeOfCommit(git_repository* repo, const git_oid* commit, const std::string& path);

// Every file under `tree` (null = none), paths relative to it.
Result<FlatTree> FlattenTree(const git_tree* tree);

// Reads a regular local file, refusing symlinks, and more than `limit` bytes
// (Status::InvalidArgument, also when it grows past `limit` while being read).
Result<std::string> ReadLocalFile(const std::string& path, uint64_t limit);

// The blob mode of a local file: executable when its owner may execute it.
uint32_t BlobModeOf(mode_t st_mode);

// True when no folder on the way from `folder` to `path` is a symlink (or a non-folder):
// writing, deleting or reading through a link could touch files outside the synced folder.
bool ParentsAreRealFolders(const std::string& folder, const std::string& path);

// Writes a tree object for `files`.
Result<git_oid> WriteTree(git_repository* repo, const FlatTree& files);

// The whole-repository tree of `commit` (null = empty) with `path` replaced by `files`.
Result<git_oid> ReplaceSubtree(git_repository* repo, const git_oid* commit, const std::string& path,
                               const FlatTree& files);

// Entries a folder cannot hold (symlinks, submodules); they stay in the repository untouched.
FlatTree UnmanagedEntries(const FlatTree& tree);
bool IsManaged(const FileEntry& e);

// Hashes the file at `path` as a blob without writing it, reading it in pieces (any size,
// bounded memory); nullopt when it does not exist. A folder or symlink there gets an entry
// of mode 0, equal to no tree entry.
Result<std::optional<FileEntry>> HashLocalFile(const std::string& path);

// Hashes the file at `rel` beneath the open folder `folder_fd`, following no symlink: nullopt
// when nothing is there; an entry of mode 0 (equal to no blob entry) when a symlink, folder or
// special file is there or a symlink is on the way.
Result<std::optional<FileEntry>> HashBeneath(int folder_fd, const std::string& rel);

}  // namespace gitsyncd
