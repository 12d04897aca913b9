// A folder's content as Git sees it: a flat map from relative path to (blob id, mode).
// Converts between local folders, Git trees and commits, and applies a tree to a folder
// atomically per file without ever overwriting a file that changed since it was scanned.
#pragma once

#include <git2.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/status.h"
#include "sync/git_handles.h"

namespace gitsyncd {

struct FileEntry {
  git_oid oid{};
  uint32_t mode = GIT_FILEMODE_BLOB;  // BLOB, BLOB_EXECUTABLE; LINK/COMMIT only from remote trees
  bool operator==(const FileEntry& o) const { return mode == o.mode && git_oid_equal(&oid, &o.oid); }
};
using FlatTree = std::map<std::string, FileEntry>;

// Files we write while applying a tree; never synced, removed when stale.
inline constexpr const char* kTempPrefix = ".gitsyncd-tmp-";

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
// skipped and described in `skipped` ("symlink a/b: not synced"). Stale temp files are removed.
// A file larger than `max_file_size` (when scanned, or grown while being read) is left out,
// described in `skipped` and its path added to `too_large` (may be null): it is not a deletion.
// `cache` may be null.
Result<FlatTree> ScanFolder(git_repository* repo, const std::string& folder, std::vector<std::string>* skipped,
                            ScanCache* cache, uint64_t max_file_size, std::set<std::string>* too_large = nullptr);

// The files under `path` of `commit` (null commit = empty). Paths are relative to `path`.
Result<FlatTree> SubtreeOfCommit(git_repository* repo, const git_oid* commit, const std::string& path);

// The folder's own tree at `path` of `commit` (the root tree for path ""); a null TreePtr
// when the commit is null or holds no folder there.
Result<TreePtr> FolderTreeOfCommit(git_repository* repo, const git_oid* commit, const std::string& path);

// Every file under `tree` (null = none), paths relative to it.
Result<FlatTree> FlattenTree(const git_tree* tree);

// Reads a regular local file, refusing symlinks, and more than `limit` bytes
// (Status::InvalidArgument, also when it grows past `limit` while being read).
Result<std::string> ReadLocalFile(const std::string& path, uint64_t limit);

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

struct ApplyReport {
  std::vector<std::string> written;
  std::vector<std::string> deleted;
  std::vector<std::string> kept;  // changed locally since the scan: left alone
};
// Makes `folder` hold `target`, given that the scan saw `scanned`. A file is replaced or
// deleted only when its current content still equals `scanned` (or already equals `target`);
// each write is temp file + fsync + rename. Unmanaged target entries are skipped.
Status ApplyToFolder(git_repository* repo, const std::string& folder, const FlatTree& scanned,
                     const FlatTree& target, ApplyReport* report);

// Hashes the file at `path` as a blob without writing it, reading it in pieces (any size,
// bounded memory); nullopt when it does not exist. A folder or symlink there gets an entry
// of mode 0, equal to no tree entry.
Result<std::optional<FileEntry>> HashLocalFile(const std::string& path);

}  // namespace gitsyncd
