// Conversions between flat maps of a folder's files, Git trees and commits.
#include <optional>
#include <vector>

#include "sync/folder_tree.h"
#include "sync/git_handles.h"

namespace gitsyncd {
namespace {

struct WalkCtx {
  FlatTree* out;
};

int CollectEntry(const char* root, const git_tree_entry* entry, void* payload) {
  auto* ctx = static_cast<WalkCtx*>(payload);
  git_filemode_t mode = git_tree_entry_filemode(entry);
  if (mode == GIT_FILEMODE_TREE) return 0;
  FileEntry e;
  e.oid = *git_tree_entry_id(entry);
  e.mode = static_cast<uint32_t>(mode);
  (*ctx->out)[std::string(root) + git_tree_entry_name(entry)] = e;
  return 0;
}

// The root tree of `commit`.
Result<TreePtr> CommitTree(git_repository* repo, const git_oid& commit) {
  git_commit* c = nullptr;
  int rc = git_commit_lookup(&c, repo, &commit);
  if (rc < 0) return GitError(rc, "cannot read commit " + OidHex(commit));
  CommitPtr cp(c);
  git_tree* t = nullptr;
  rc = git_commit_tree(&t, c);
  if (rc < 0) return GitError(rc, "cannot read tree of " + OidHex(commit));
  return TreePtr(t);
}

}  // namespace

Result<FlatTree> FlattenTree(const git_tree* tree) {
  FlatTree out;
  if (tree == nullptr) return out;
  WalkCtx ctx{&out};
  int rc = git_tree_walk(tree, GIT_TREEWALK_PRE, &CollectEntry, &ctx);
  if (rc < 0) return GitError(rc, "cannot read tree");
  return out;
}

bool IsManaged(const FileEntry& e) {
  return e.mode == GIT_FILEMODE_BLOB || e.mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

FlatTree UnmanagedEntries(const FlatTree& tree) {
  FlatTree out;
  for (const auto& [p, e] : tree) {
    if (!IsManaged(e)) out[p] = e;
  }
  return out;
}

Result<TreePtr> LookupTree(git_repository* repo, const git_oid& id) {
  git_tree* t = nullptr;
  if (int rc = git_tree_lookup(&t, repo, &id); rc < 0) return GitError(rc, "cannot read tree " + OidHex(id));
  return TreePtr(t);
}

Result<TreePtr> FolderTreeOfCommit(git_repository* repo, const git_oid* commit, const std::string& path) {
  if (commit == nullptr) return TreePtr(nullptr);
  auto root = CommitTree(repo, *commit);
  if (!root.ok() || path.empty()) return root;
  // Only the folder's own tree is read: the rest of a large repository is never walked.
  git_tree_entry* entry = nullptr;
  int rc = git_tree_entry_bypath(&entry, root->get(), path.c_str());
  if (rc == GIT_ENOTFOUND) return TreePtr(nullptr);
  if (rc < 0) return GitError(rc, "cannot find " + path + " in " + OidHex(*commit));
  TreeEntryPtr ep(entry);
  if (git_tree_entry_type(entry) != GIT_OBJECT_TREE) return TreePtr(nullptr);  // a file where the folder should be
  git_tree* sub = nullptr;
  rc = git_tree_lookup(&sub, repo, git_tree_entry_id(entry));
  if (rc < 0) return GitError(rc, "cannot read tree " + path);
  return TreePtr(sub);
}

Result<FlatTree> SubtreeOfCommit(git_repository* repo, const git_oid* commit, const std::string& path) {
  auto tree = FolderTreeOfCommit(repo, commit, path);
  if (!tree.ok()) return tree.status();
  return FlattenTree(tree->get());
}

Result<git_oid> WriteTree(git_repository* repo, const FlatTree& files) {
  git_index* raw = nullptr;
  int rc = git_index_new(&raw);
  if (rc < 0) return GitError(rc, "cannot create index");
  IndexPtr index(raw);
  for (const auto& [path, e] : files) {
    git_index_entry entry{};
    entry.mode = e.mode;
    entry.id = e.oid;
    entry.path = path.c_str();
    rc = git_index_add(raw, &entry);
    if (rc < 0) return GitError(rc, "cannot add " + path + " to a tree");
  }
  git_oid tree{};
  rc = git_index_write_tree_to(&tree, raw, repo);
  if (rc < 0) return GitError(rc, "cannot write tree");
  return tree;
}

namespace {

// Rebuilds `tree` (null = none) with the entry at components[i..] replaced by `sub` (nullopt =
// removed), writing only the trees along the path. Returns nullopt when the result is empty.
Result<std::optional<git_oid>> Splice(git_repository* repo, const git_tree* tree,
                                      const std::vector<std::string>& components, size_t i,
                                      const std::optional<git_oid>& sub) {
  git_treebuilder* raw = nullptr;
  int rc = git_treebuilder_new(&raw, repo, tree);
  if (rc < 0) return GitError(rc, "cannot start a tree");
  TreeBuilderPtr builder(raw);
  const std::string& name = components[i];
  std::optional<git_oid> child = sub;
  if (i + 1 < components.size()) {
    const git_tree_entry* existing = tree ? git_tree_entry_byname(tree, name.c_str()) : nullptr;
    TreePtr child_tree(nullptr);
    if (existing && git_tree_entry_type(existing) == GIT_OBJECT_TREE) {
      git_tree* t = nullptr;
      rc = git_tree_lookup(&t, repo, git_tree_entry_id(existing));
      if (rc < 0) return GitError(rc, "cannot read tree " + name);
      child_tree.reset(t);
    }
    auto spliced = Splice(repo, child_tree.get(), components, i + 1, sub);
    if (!spliced.ok()) return spliced.status();
    child = *spliced;
  }
  if (child) {
    rc = git_treebuilder_insert(nullptr, raw, name.c_str(), &*child, GIT_FILEMODE_TREE);
  } else if (git_treebuilder_get(raw, name.c_str()) != nullptr) {
    rc = git_treebuilder_remove(raw, name.c_str());
  }
  if (rc < 0) return GitError(rc, "cannot place " + name + " in a tree");
  if (git_treebuilder_entrycount(raw) == 0) return std::optional<git_oid>();
  git_oid out;
  rc = git_treebuilder_write(&out, raw);
  if (rc < 0) return GitError(rc, "cannot write tree");
  return std::optional<git_oid>(out);
}

}  // namespace

Result<git_oid> ReplaceSubtree(git_repository* repo, const git_oid* commit, const std::string& path,
                               const FlatTree& files) {
  if (path.empty()) return WriteTree(repo, files);
  // The folder's tree from its files, then only the trees along `path` are rewritten: the
  // cost follows the folder and the path depth, not the size of the repository.
  std::optional<git_oid> sub;
  if (!files.empty()) {
    auto written = WriteTree(repo, files);
    if (!written.ok()) return written.status();
    sub = *written;
  }
  TreePtr root(nullptr);
  if (commit != nullptr) {
    auto tree = CommitTree(repo, *commit);
    if (!tree.ok()) return tree.status();
    root = std::move(tree).value();
  }
  std::vector<std::string> components;
  for (size_t start = 0; start <= path.size();) {
    size_t slash = path.find('/', start);
    components.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  auto spliced = Splice(repo, root.get(), components, 0, sub);
  if (!spliced.ok()) return spliced.status();
  if (*spliced) return **spliced;
  return WriteTree(repo, FlatTree{});  // the whole repository is empty
}

}  // namespace gitsyncd
