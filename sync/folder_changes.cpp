#include "sync/folder_changes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "sync/folder_fd.h"
#include "sync/git_handles.h"
#include "sync/remote_path.h"

namespace gitsyncd {
namespace {

using EntryMap = std::map<std::string, FileEntry>;

bool IsUnsafeHint(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.back() == '/' || p.find('\0') != std::string::npos) return true;
  size_t start = 0;
  for (;;) {
    size_t slash = p.find('/', start);
    std::string part = p.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == ".." || part == ".git") return true;
    if (slash == std::string::npos) return false;
    start = slash + 1;
  }
}

// True when a proper ancestor folder of `p` is in `paths` (a hinted folder is examined whole).
bool HasAncestorIn(const std::string& p, const std::set<std::string>& paths) {
  for (size_t slash = p.find('/'); slash != std::string::npos; slash = p.find('/', slash + 1)) {
    if (paths.count(p.substr(0, slash)) != 0) return true;
  }
  return false;
}

std::string Join(const std::string& prefix, const std::string& rest) { return prefix.empty() ? rest : prefix + "/" + rest; }

// The files at or under `rel` beneath the open folder `root`; nullopt when something there
// needs a full scan (a symlink there or on the way, a special file, a file over the limit).
Result<std::optional<EntryMap>> LocalEntriesAt(git_repository* repo, int root, const std::string& rel,
                                               const std::optional<FileEntry>& base_entry, uint64_t max_file_size) {
  EntryMap out;
  UniqueFd fd(OpenBeneath(root, rel, O_RDONLY | O_NONBLOCK));
  struct stat st{};
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<EntryMap>(out);
    if (errno == ELOOP || errno == EXDEV) return std::optional<EntryMap>();
    return Status::IoError("cannot open " + rel + ": " + std::strerror(errno));
  }
  if (::fstat(fd.get(), &st) != 0) return Status::IoError("cannot stat " + rel + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    std::vector<std::string> skipped;
    auto scanned = ScanFolderBeneath(repo, root, rel, &skipped, max_file_size);
    if (!scanned.ok()) return scanned.status();
    if (!skipped.empty()) return std::optional<EntryMap>();
    for (auto& [p, e] : *scanned) out[rel + "/" + p] = e;
    return std::optional<EntryMap>(std::move(out));
  }
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > max_file_size) return std::optional<EntryMap>();
  auto data = ReadOpenFile(fd.get(), rel, max_file_size);
  if (!data.ok()) {
    if (data.status().code() == Status::Code::kInvalidArgument) return std::optional<EntryMap>();  // grew too large
    return data.status();
  }
  FileEntry e;
  e.mode = BlobModeOf(st.st_mode);
  int rc = git_odb_hash(&e.oid, data->data(), data->size(), GIT_OBJECT_BLOB);
  if (rc < 0) return GitError(rc, "cannot hash " + rel);
  // Only a changed file is stored: an unchanged one is in the repository already.
  if (!(base_entry && *base_entry == e)) {
    rc = git_blob_create_from_buffer(&e.oid, repo, data->data(), data->size());
    if (rc < 0) return GitError(rc, "cannot store " + rel);
  }
  out[rel] = e;
  return std::optional<EntryMap>(std::move(out));
}

// The entries at or under `rel` in `base`; nullopt when one is a symlink or submodule.
Result<std::optional<EntryMap>> BaseEntriesAt(git_repository* repo, const git_tree* base, const std::string& rel) {
  EntryMap out;
  if (base == nullptr) return std::optional<EntryMap>(out);
  git_tree_entry* raw = nullptr;
  int rc = git_tree_entry_bypath(&raw, base, rel.c_str());
  if (rc == GIT_ENOTFOUND) return std::optional<EntryMap>(out);
  if (rc < 0) return GitError(rc, "cannot look up " + rel);
  TreeEntryPtr entry(raw);
  if (git_tree_entry_type(raw) == GIT_OBJECT_TREE) {
    git_tree* sub = nullptr;
    rc = git_tree_lookup(&sub, repo, git_tree_entry_id(raw));
    if (rc < 0) return GitError(rc, "cannot read tree " + rel);
    TreePtr owned(sub);
    auto flat = FlattenTree(sub);
    if (!flat.ok()) return flat.status();
    for (auto& [p, e] : *flat) {
      if (!IsManaged(e)) return std::optional<EntryMap>();
      out[rel + "/" + p] = e;
    }
    return std::optional<EntryMap>(std::move(out));
  }
  FileEntry e{*git_tree_entry_id(raw), static_cast<uint32_t>(git_tree_entry_filemode(raw))};
  if (!IsManaged(e)) return std::optional<EntryMap>();
  out[rel] = e;
  return std::optional<EntryMap>(std::move(out));
}

void AddDifferences(const EntryMap& before, const EntryMap& after, ChangeList* out) {
  for (const auto& [p, e] : after) {
    auto it = before.find(p);
    if (it == before.end()) out->push_back({p, std::nullopt, e});
    else if (!(it->second == e)) out->push_back({p, it->second, e});
  }
  for (const auto& [p, e] : before) {
    if (after.count(p) == 0) out->push_back({p, e, std::nullopt});
  }
}

void SortByPath(ChangeList* changes) {
  std::sort(changes->begin(), changes->end(), [](const PathChange& a, const PathChange& b) { return a.path < b.path; });
}

std::optional<FileEntry> EntryOf(const git_tree_entry* e) {
  if (e == nullptr) return std::nullopt;
  return FileEntry{*git_tree_entry_id(e), static_cast<uint32_t>(git_tree_entry_filemode(e))};
}

Result<TreePtr> SubtreeOf(git_repository* repo, const git_tree_entry* e) {
  if (e == nullptr || git_tree_entry_type(e) != GIT_OBJECT_TREE) return TreePtr(nullptr);
  git_tree* t = nullptr;
  int rc = git_tree_lookup(&t, repo, git_tree_entry_id(e));
  if (rc < 0) return GitError(rc, "cannot read tree");
  return TreePtr(t);
}

Status DiffTrees(git_repository* repo, const git_tree* from, const git_tree* to, const std::string& prefix,
                 ChangeList* out) {
  // Entries of `to`, then entries only in `from`. Names are looked up, not merge-walked: Git
  // sorts folder names as if they ended in '/', which a plain name comparison would miss.
  size_t n_to = to ? git_tree_entrycount(to) : 0;
  std::set<std::string_view> names;
  for (size_t i = 0; i < n_to; ++i) {
    const git_tree_entry* t = git_tree_entry_byindex(to, i);
    const char* name = git_tree_entry_name(t);
    // `to` comes from the remote: its names pass the one remote path check (remote_path.h).
    if (auto why = RemoteNameProblem(name)) return UnsafeRemotePath(Join(prefix, name), *why);
    if (!names.insert(name).second) {
      return UnsafeRemotePath(Join(prefix, name), "two entries of this name in one folder");
    }
    const git_tree_entry* f = from ? git_tree_entry_byname(from, name) : nullptr;
    if (f && git_tree_entry_filemode(f) == git_tree_entry_filemode(t) &&
        git_oid_equal(git_tree_entry_id(f), git_tree_entry_id(t))) {
      continue;  // identical entry or subtree: nothing below it changed
    }
    std::string path = Join(prefix, name);
    if (path.size() > kMaxRemotePathBytes) return UnsafeRemotePath(path, "too long");
    bool t_tree = git_tree_entry_type(t) == GIT_OBJECT_TREE;
    bool f_tree = f && git_tree_entry_type(f) == GIT_OBJECT_TREE;
    if (t_tree || f_tree) {
      auto fs = SubtreeOf(repo, f);
      auto ts = SubtreeOf(repo, t);
      if (!fs.ok() || !ts.ok()) return !fs.ok() ? fs.status() : ts.status();
      Status s = DiffTrees(repo, fs->get(), ts->get(), path, out);
      if (!s.ok()) return s;
    }
    std::optional<FileEntry> before = f_tree ? std::nullopt : EntryOf(f);
    std::optional<FileEntry> after = t_tree ? std::nullopt : EntryOf(t);
    if (before || after) out->push_back({path, before, after});
  }
  size_t n_from = from ? git_tree_entrycount(from) : 0;
  for (size_t i = 0; i < n_from; ++i) {
    const git_tree_entry* f = git_tree_entry_byindex(from, i);
    if (to && git_tree_entry_byname(to, git_tree_entry_name(f)) != nullptr) continue;
    std::string path = Join(prefix, git_tree_entry_name(f));
    if (git_tree_entry_type(f) == GIT_OBJECT_TREE) {
      auto fs = SubtreeOf(repo, f);
      if (!fs.ok()) return fs.status();
      Status s = DiffTrees(repo, fs->get(), nullptr, path, out);
      if (!s.ok()) return s;
    } else {
      out->push_back({path, EntryOf(f), std::nullopt});
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::optional<ChangeList>> LocalChangesAt(git_repository* repo, const std::string& folder, const git_tree* base,
                                                 const std::set<std::string>& hinted, uint64_t max_file_size) {
  ChangeList changes;
  auto root = OpenFolder(folder);
  if (!root.ok()) return root.status();
  for (const auto& rel : hinted) {
    if (IsUnsafeHint(rel)) return std::optional<ChangeList>();
    if (HasAncestorIn(rel, hinted)) continue;
    auto before = BaseEntriesAt(repo, base, rel);
    if (!before.ok()) return before.status();
    if (!*before) return std::optional<ChangeList>();
    auto single = (*before)->find(rel);
    std::optional<FileEntry> base_entry;
    if (single != (*before)->end()) base_entry = single->second;
    auto after = LocalEntriesAt(repo, root->get(), rel, base_entry, max_file_size);
    if (!after.ok()) return after.status();
    if (!*after) return std::optional<ChangeList>();
    AddDifferences(**before, **after, &changes);
  }
  SortByPath(&changes);
  return std::optional<ChangeList>(std::move(changes));
}

Result<ChangeList> DiffFolderTrees(git_repository* repo, const git_tree* from, const git_tree* to) {
  ChangeList changes;
  Status s = DiffTrees(repo, from, to, "", &changes);
  if (!s.ok()) return s;
  SortByPath(&changes);
  return changes;
}

bool IsSimpleChangeList(const ChangeList& changes) {
  std::set<std::string> paths;
  for (const auto& c : changes) {
    if ((c.before && !IsManaged(*c.before)) || (c.after && !IsManaged(*c.after))) return false;
    paths.insert(c.path);
  }
  for (const auto& c : changes) {
    if (HasAncestorIn(c.path, paths)) return false;
  }
  return true;
}

Result<git_oid> UpdateTreeOfCommit(git_repository* repo, const git_oid& commit, const std::string& path,
                                   const ChangeList& changes) {
  auto root = FolderTreeOfCommit(repo, &commit, "");
  if (!root.ok()) return root.status();
  std::vector<std::string> full_paths;
  full_paths.reserve(changes.size());
  for (const auto& c : changes) full_paths.push_back(Join(path, c.path));
  std::vector<git_tree_update> updates;
  updates.reserve(changes.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    git_tree_update u{};
    u.path = full_paths[i].c_str();
    if (changes[i].after) {
      u.action = GIT_TREE_UPDATE_UPSERT;
      u.id = changes[i].after->oid;
      u.filemode = static_cast<git_filemode_t>(changes[i].after->mode);
    } else {
      u.action = GIT_TREE_UPDATE_REMOVE;
    }
    updates.push_back(u);
  }
  git_oid out;
  int rc = git_tree_create_updated(&out, repo, root->get(), updates.size(), updates.data());
  if (rc < 0) return GitError(rc, "cannot update the tree of " + OidHex(commit));
  return out;
}

Result<std::vector<git_oid>> ObjectsOfCommit(git_repository* repo, const git_oid& commit, const git_oid& root_tree,
                                             const std::string& path, const ChangeList& changes) {
  git_tree* raw = nullptr;
  int rc = git_tree_lookup(&raw, repo, &root_tree);
  if (rc < 0) return GitError(rc, "cannot read tree " + OidHex(root_tree));
  TreePtr root(raw);
  std::set<std::string> folders;  // every folder on the way to a changed path
  for (const auto& c : changes) {
    std::string full = Join(path, c.path);
    for (size_t slash = full.find('/'); slash != std::string::npos; slash = full.find('/', slash + 1)) {
      folders.insert(full.substr(0, slash));
    }
  }
  std::vector<git_oid> out{commit, root_tree};
  for (const auto& f : folders) {
    git_tree_entry* e = nullptr;
    if (git_tree_entry_bypath(&e, raw, f.c_str()) != 0) continue;  // removed with its last file
    TreeEntryPtr entry(e);
    if (git_tree_entry_type(e) == GIT_OBJECT_TREE) out.push_back(*git_tree_entry_id(e));
  }
  for (const auto& c : changes) {
    if (c.after) out.push_back(c.after->oid);
  }
  return out;
}

std::vector<std::string> DescribeChanges(const ChangeList& changes, const std::string& prefix) {
  std::vector<std::string> out;
  out.reserve(changes.size());
  for (const auto& c : changes) out.push_back(std::string(!c.before ? "A " : !c.after ? "D " : "M ") + prefix + c.path);
  return out;
}

}  // namespace gitsyncd
