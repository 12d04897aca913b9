#include "sync/folder_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <set>

#include <openssl/evp.h>

#include "sync/git_handles.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

}  // namespace

Result<std::string> ReadLocalFile(const std::string& path, uint64_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  struct stat st{};
  if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) > limit) {
    ::close(fd);
    return Status::InvalidArgument("file " + path + " is larger than " + std::to_string(limit / (1024 * 1024)) +
                                   " MiB; not synced");
  }
  std::string data;
  data.resize(static_cast<size_t>(st.st_size));
  size_t off = 0;
  while (true) {
    if (off == data.size()) data.resize(data.size() + 4096);
    ssize_t n = ::read(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    off += static_cast<size_t>(n);
    if (off > limit) {
      ::close(fd);
      return Status::InvalidArgument("file " + path + " grew past the size limit while being read");
    }
  }
  ::close(fd);
  data.resize(off);
  return data;
}

namespace {

uint32_t ModeOf(const struct stat& st) {
  return (st.st_mode & S_IXUSR) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
}

// Files modified this close to the scan may change again within the same mtime tick; they
// are always re-read (git's "racy" rule).
constexpr int64_t kRacyWindowNs = 2'000'000'000;

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

struct ScanContext {
  git_repository* repo;
  std::string root;
  FlatTree* out;
  std::vector<std::string>* skipped;
  ScanCache* cache;
  ScanCache fresh;  // what this scan saw, replaces the cache when done
  int64_t now_ns;
  uint64_t max_file_size;
  std::set<std::string>* too_large;
  git_odb* odb = nullptr;  // a cached id counts only if the blob is really in the repository
};

// A file over max_file_size is not synced; the pass keeps the branch's version of it.
void SkipTooLarge(ScanContext& ctx, const std::string& path) {
  ctx.skipped->push_back("file " + path + " is larger than max_file_size (" +
                         std::to_string(ctx.max_file_size / 1024) + " KiB): not synced; the branch keeps its version");
  if (ctx.too_large != nullptr) ctx.too_large->insert(path);
}

Status ScanDir(ScanContext& ctx, const std::string& rel) {
  git_repository* repo = ctx.repo;
  const std::string& root = ctx.root;
  FlatTree* out = ctx.out;
  std::vector<std::string>* skipped = ctx.skipped;
  std::string dir = rel.empty() ? root : root + "/" + rel;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return Status::IoError("cannot list " + dir + ": " + ec.message());
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    std::string path = rel.empty() ? name : rel + "/" + name;
    std::string full = root + "/" + path;
    if (name.rfind(kTempPrefix, 0) == 0) {
      // Left by an interrupted write: the rename never happened, so it holds nothing final.
      ::unlink(full.c_str());
      continue;
    }
    struct stat st{};
    if (::lstat(full.c_str(), &st) != 0) continue;  // vanished meanwhile; the next scan sees it
    if (name == ".git") {
      skipped->push_back(".git entry " + path + ": not synced");
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      skipped->push_back("symlink " + path + ": not synced (links are never followed)");
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      Status s = ScanDir(ctx, path);
      if (!s.ok()) return s;
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      skipped->push_back("special file " + path + ": not synced");
      continue;
    }
    if (out->size() >= kMaxFiles) {
      return Status::InvalidArgument("folder " + root + " holds more than " + std::to_string(kMaxFiles) + " files");
    }
    if (static_cast<uint64_t>(st.st_size) > ctx.max_file_size) {
      SkipTooLarge(ctx, path);
      continue;
    }
    FileEntry e;
    e.mode = ModeOf(st);
    ScanCacheEntry seen{st.st_size, MtimeNs(st), st.st_ino, e.mode, {}};
    if (ctx.cache != nullptr) {
      auto hit = ctx.cache->entries.find(path);
      bool same = hit != ctx.cache->entries.end() && hit->second.size == seen.size &&
                  hit->second.mtime_ns == seen.mtime_ns && hit->second.inode == seen.inode &&
                  hit->second.mode == seen.mode && seen.mtime_ns < ctx.now_ns - kRacyWindowNs &&
                  ctx.odb != nullptr && git_odb_exists(ctx.odb, &hit->second.oid) == 1;
      if (same) {
        e.oid = hit->second.oid;
        (*out)[path] = e;
        ctx.fresh.entries[path] = hit->second;
        continue;
      }
    }
    auto data = ReadLocalFile(full, ctx.max_file_size);
    if (!data.ok()) {
      if (data.status().code() == Status::Code::kInvalidArgument) {  // grew past the limit meanwhile
        SkipTooLarge(ctx, path);
        continue;
      }
      return data.status();
    }
    int rc = git_blob_create_from_buffer(&e.oid, repo, data->data(), data->size());
    if (rc < 0) return GitError(rc, "cannot store " + path);
    (*out)[path] = e;
    seen.oid = e.oid;
    ctx.fresh.entries[path] = seen;
    ctx.fresh.dirty = true;
  }
  return Status::Ok();
}

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

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kChars = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 12; ++i) s += kChars[rng() % 36];
  return s;
}

void FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

Status WriteFileAtomically(git_repository* repo, const std::string& full, const FileEntry& e) {
  git_blob* b = nullptr;
  int rc = git_blob_lookup(&b, repo, &e.oid);
  if (rc < 0) return GitError(rc, "cannot read blob for " + full);
  BlobPtr blob(b);
  std::string dir = fs::path(full).parent_path().string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("cannot create folder " + dir + ": " + ec.message());
  std::string tmp = dir + "/" + kTempPrefix + RandomSuffix();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                  e.mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
  if (fd < 0) return Status::IoError("cannot create " + tmp + ": " + std::strerror(errno));
  const char* data = static_cast<const char*>(git_blob_rawcontent(b));
  size_t size = static_cast<size_t>(git_blob_rawsize(b));
  size_t off = 0;
  while (off < size) {
    ssize_t n = ::write(fd, data + off, size - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status::IoError("cannot write " + tmp + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status::IoError("cannot flush " + tmp);
  }
  if (::rename(tmp.c_str(), full.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::IoError("cannot replace " + full + ": " + std::strerror(err));
  }
  return Status::Ok();
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

bool ParentsAreRealFolders(const std::string& folder, const std::string& path) {
  std::string cur = folder;
  size_t start = 0;
  for (size_t slash; (slash = path.find('/', start)) != std::string::npos; start = slash + 1) {
    cur += "/" + path.substr(start, slash - start);
    struct stat st{};
    if (::lstat(cur.c_str(), &st) != 0) return errno == ENOENT;  // created later as a real folder
    if (!S_ISDIR(st.st_mode)) return false;
  }
  return true;
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

ScanCache LoadScanCache(const std::string& file) {
  ScanCache cache;
  FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return cache;
  char line[8192];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    // <oid> <size> <mtime_ns> <inode> <mode> <path>
    char hex[GIT_OID_HEXSZ + 1];
    long long size = 0, mtime = 0;
    unsigned long long inode = 0;
    unsigned mode = 0;
    int consumed = 0;
    if (std::sscanf(line, "%40s %lld %lld %llu %o %n", hex, &size, &mtime, &inode, &mode, &consumed) != 5) continue;
    std::string path(line + consumed);
    if (!path.empty() && path.back() == '\n') path.pop_back();
    ScanCacheEntry e{size, mtime, inode, mode, {}};
    if (path.empty() || git_oid_fromstr(&e.oid, hex) < 0) continue;
    cache.entries[path] = e;
  }
  std::fclose(f);
  return cache;
}

Status SaveScanCache(const std::string& file, const ScanCache& cache) {
  std::string tmp = file + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return Status::IoError("cannot write " + tmp + ": " + std::strerror(errno));
  for (const auto& [path, e] : cache.entries) {
    if (path.find('\n') != std::string::npos) continue;  // cannot be represented; re-read next time
    std::fprintf(f, "%s %lld %lld %llu %o %s\n", OidHex(e.oid).c_str(), static_cast<long long>(e.size),
                 static_cast<long long>(e.mtime_ns), static_cast<unsigned long long>(e.inode), e.mode, path.c_str());
  }
  bool ok = std::fflush(f) == 0;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0) return Status::IoError("cannot save " + file);
  return Status::Ok();
}

Result<FlatTree> ScanFolder(git_repository* repo, const std::string& folder, std::vector<std::string>* skipped,
                            ScanCache* cache, uint64_t max_file_size, std::set<std::string>* too_large) {
  FlatTree out;
  std::error_code ec;
  if (!fs::exists(folder, ec)) {
    fs::create_directories(folder, ec);
    if (ec) return Status::IoError("cannot create local folder " + folder + ": " + ec.message());
  }
  if (fs::is_symlink(folder, ec) || !fs::is_directory(folder, ec)) {
    return Status::InvalidArgument("local folder " + folder + " is not a directory");
  }
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  ScanContext ctx{repo,  folder, &out, skipped, cache, {}, static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec,
                  max_file_size, too_large};
  OdbPtr odb;
  if (cache != nullptr) {
    git_odb* raw = nullptr;
    if (git_repository_odb(&raw, repo) == 0) odb.reset(raw);
    ctx.odb = raw;
  }
  Status s = ScanDir(ctx, "");
  if (!s.ok()) return s;
  if (cache != nullptr) {
    ctx.fresh.dirty = ctx.fresh.dirty || ctx.fresh.entries.size() != cache->entries.size();
    *cache = std::move(ctx.fresh);
  }
  return out;
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

namespace {

// The blob id of the regular file at `path` ("blob <size>\0" + content, SHA-1), read in
// pieces: no size limit is needed to compare a file with a tree entry.
Result<git_oid> HashBlobFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });
  struct stat st{};
  if (::fstat(fd, &st) != 0) return Status::IoError("cannot stat " + path + ": " + std::strerror(errno));
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!md || EVP_DigestInit_ex(md.get(), EVP_sha1(), nullptr) != 1) return Status::Internal("cannot start SHA-1");
  // The header names the size fstat saw; a file that changes size while being read hashes to
  // an id no tree holds, which callers treat as "changed" (the truth).
  std::string header = "blob " + std::to_string(st.st_size) + std::string(1, '\0');
  EVP_DigestUpdate(md.get(), header.data(), header.size());
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) break;
    EVP_DigestUpdate(md.get(), buf.data(), static_cast<size_t>(n));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(md.get(), digest, &len);
  git_oid oid;
  git_oid_fromraw(&oid, digest);
  return oid;
}

}  // namespace

Result<std::optional<FileEntry>> HashLocalFile(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<FileEntry>();
    return Status::IoError("cannot stat " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    FileEntry odd;  // a symlink or folder where a file was: never equal to any blob entry
    odd.mode = 0;
    return std::optional<FileEntry>(odd);
  }
  auto oid = HashBlobFile(path);
  if (!oid.ok()) return oid.status();
  FileEntry e;
  e.mode = ModeOf(st);
  e.oid = *oid;
  return std::optional<FileEntry>(e);
}

Status ApplyToFolder(git_repository* repo, const std::string& folder, const FlatTree& scanned,
                     const FlatTree& target, ApplyReport* report) {
  // Is the file still what the scan saw (or already what we want)? Then it is ours to change.
  auto untouched = [&](const std::string& path, const std::optional<FileEntry>& want) -> Result<bool> {
    auto now = HashLocalFile(folder + "/" + path);
    if (!now.ok()) return now.status();
    auto it = scanned.find(path);
    std::optional<FileEntry> seen = it == scanned.end() ? std::nullopt : std::optional<FileEntry>(it->second);
    bool same_as_seen = now->has_value() == seen.has_value() && (!seen || **now == *seen);
    bool same_as_want = want && now->has_value() && **now == *want;
    return same_as_seen || same_as_want;
  };
  std::set<std::string> dirs_touched;
  // Deletions first, so a file can become a folder of the same name.
  for (const auto& [path, e] : scanned) {
    if (target.count(path) != 0) continue;
    if (!ParentsAreRealFolders(folder, path)) {
      report->kept.push_back(path);
      continue;
    }
    auto ok = untouched(path, std::nullopt);
    if (!ok.ok()) return ok.status();
    if (!*ok) {
      report->kept.push_back(path);
      continue;
    }
    std::string full = folder + "/" + path;
    if (::unlink(full.c_str()) != 0 && errno != ENOENT) {
      return Status::IoError("cannot delete " + full + ": " + std::strerror(errno));
    }
    report->deleted.push_back(path);
    dirs_touched.insert(fs::path(full).parent_path().string());
  }
  // Remove folders the deletions emptied (deepest first), never the synced folder itself.
  for (auto it = dirs_touched.rbegin(); it != dirs_touched.rend(); ++it) {
    for (fs::path d = *it; d.string().size() > folder.size(); d = d.parent_path()) {
      if (::rmdir(d.c_str()) != 0) break;
    }
  }
  for (const auto& [path, e] : target) {
    if (!IsManaged(e)) continue;
    auto it = scanned.find(path);
    if (it != scanned.end() && it->second == e) continue;
    if (!ParentsAreRealFolders(folder, path)) {
      report->kept.push_back(path);
      continue;
    }
    auto ok = untouched(path, e);
    if (!ok.ok()) return ok.status();
    if (!*ok) {
      report->kept.push_back(path);
      continue;
    }
    std::string full = folder + "/" + path;
    auto now = HashLocalFile(full);
    if (now.ok() && now->has_value() && **now == e) continue;
    Status s = WriteFileAtomically(repo, full, e);
    if (!s.ok()) return s;
    report->written.push_back(path);
    dirs_touched.insert(fs::path(full).parent_path().string());
  }
  for (const auto& d : dirs_touched) FsyncDir(d);
  return Status::Ok();
}

}  // namespace gitsyncd
