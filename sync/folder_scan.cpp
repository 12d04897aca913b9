// Reading a local folder into blobs: every folder is opened relative to its parent's
// descriptor without following symlinks, so a link swapped in during a scan is never entered.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <set>

#include "sync/folder_fd.h"
#include "sync/folder_tree.h"
#include "sync/git_handles.h"
#include "sync/ignore_matcher.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

// Files modified this close to the scan may change again within the same mtime tick; they
// are always re-read (git's "racy" rule).
constexpr int64_t kRacyWindowNs = 2'000'000'000;

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

struct ScanContext {
  git_repository* repo;
  std::string root;  // the folder's path, for messages
  FlatTree* out;
  std::vector<std::string>* skipped;
  ScanCache* cache;
  ScanCache fresh;  // what this scan saw, replaces the cache when done
  int64_t now_ns;
  uint64_t max_file_size;
  std::set<std::string>* too_large;
  git_odb* odb = nullptr;  // a cached id counts only if the blob is really in the repository
  IgnoreMatcher* ignore = nullptr;
};

// A file over max_file_size is not synced; the pass keeps the branch's version of it.
void SkipTooLarge(ScanContext& ctx, const std::string& path) {
  ctx.skipped->push_back("file " + path + " is larger than max_file_size (" +
                         std::to_string(ctx.max_file_size / 1024) + " KiB): not synced; the branch keeps its version");
  if (ctx.too_large != nullptr) ctx.too_large->insert(path);
}

// The cached blob id of `path` when the file is provably unchanged since it was cached.
const ScanCacheEntry* CacheHit(const ScanContext& ctx, const std::string& path, const ScanCacheEntry& seen) {
  if (ctx.cache == nullptr || ctx.odb == nullptr) return nullptr;
  auto hit = ctx.cache->entries.find(path);
  if (hit == ctx.cache->entries.end()) return nullptr;
  const ScanCacheEntry& c = hit->second;
  bool same = c.size == seen.size && c.mtime_ns == seen.mtime_ns && c.inode == seen.inode && c.mode == seen.mode &&
              seen.mtime_ns < ctx.now_ns - kRacyWindowNs && git_odb_exists(ctx.odb, &c.oid) == 1;
  return same ? &c : nullptr;
}

Status ScanFile(ScanContext& ctx, int dirfd, const std::string& name, const std::string& path, const struct stat& st) {
  if (ctx.out->size() >= kMaxFiles) {
    return Status::InvalidArgument("folder " + ctx.root + " holds more than " + std::to_string(kMaxFiles) + " files");
  }
  if (static_cast<uint64_t>(st.st_size) > ctx.max_file_size) {
    SkipTooLarge(ctx, path);
    return Status::Ok();
  }
  FileEntry e;
  e.mode = BlobModeOf(st.st_mode);
  ScanCacheEntry seen{st.st_size, MtimeNs(st), st.st_ino, e.mode, {}};
  if (const ScanCacheEntry* hit = CacheHit(ctx, path, seen)) {
    e.oid = hit->oid;
    (*ctx.out)[path] = e;
    ctx.fresh.entries[path] = *hit;
    return Status::Ok();
  }
  std::string full = ctx.root + "/" + path;
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat now{};
  if (!fd || ::fstat(fd.get(), &now) != 0 || !S_ISREG(now.st_mode)) return Status::Ok();  // replaced meanwhile
  auto data = ReadOpenFile(fd.get(), full, ctx.max_file_size);
  if (!data.ok()) {
    if (data.status().code() != Status::Code::kInvalidArgument) return data.status();
    SkipTooLarge(ctx, path);  // grew past the limit meanwhile
    return Status::Ok();
  }
  int rc = git_blob_create_from_buffer(&e.oid, ctx.repo, data->data(), data->size());
  if (rc < 0) return GitError(rc, "cannot store " + path);
  (*ctx.out)[path] = e;
  seen.oid = e.oid;
  ctx.fresh.entries[path] = seen;
  ctx.fresh.dirty = true;
  return Status::Ok();
}

// The names in the open folder `dirfd` ("." and ".." left out).
Result<std::vector<std::string>> ListNames(int dirfd, const std::string& what) {
  int copy = ::dup(dirfd);
  DIR* d = copy < 0 ? nullptr : ::fdopendir(copy);
  if (d == nullptr) {
    int err = errno;
    if (copy >= 0) ::close(copy);
    return Status::IoError("cannot list " + what + ": " + std::strerror(err));
  }
  ::rewinddir(d);
  std::vector<std::string> names;
  while (const dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(d);
  return names;
}

Status ScanDir(ScanContext& ctx, int dirfd, const std::string& rel) {
  auto names = ListNames(dirfd, rel.empty() ? ctx.root : ctx.root + "/" + rel);
  if (!names.ok()) return names.status();
  for (const auto& name : *names) {
    std::string path = rel.empty() ? name : rel + "/" + name;
    struct stat st{};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished; the next scan sees it
    Status s;
    if (ctx.ignore != nullptr && name != ".git") {
      auto ignored = ctx.ignore->Ignored(path, S_ISDIR(st.st_mode));
      if (!ignored.ok()) return ignored.status();
      if (*ignored) continue;  // never read, never pushed; a pull leaves it alone too
    }
    if (name == ".git") {
      ctx.skipped->push_back(".git entry " + path + ": not synced");
    } else if (S_ISLNK(st.st_mode)) {
      ctx.skipped->push_back("symlink " + path + ": not synced (links are never followed)");
    } else if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) s = ScanDir(ctx, sub.get(), path);  // else replaced meanwhile: the next scan sees it
    } else if (S_ISREG(st.st_mode)) {
      s = ScanFile(ctx, dirfd, name, path, st);
    } else {
      ctx.skipped->push_back("special file " + path + ": not synced");
    }
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Result<FlatTree> ScanFolder(git_repository* repo, const std::string& folder, std::vector<std::string>* skipped,
                            ScanCache* cache, uint64_t max_file_size, std::set<std::string>* too_large,
                            IgnoreMatcher* ignore) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(folder, ec))) {
    fs::create_directories(folder, ec);
    if (ec) return Status::IoError("cannot create local folder " + folder + ": " + ec.message());
  }
  auto root = OpenFolder(folder);
  if (!root.ok()) return root.status();
  FlatTree out;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  ScanContext ctx{repo,          folder,   &out, skipped, cache, {}, static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec,
                  max_file_size, too_large};
  ctx.ignore = ignore;
  OdbPtr odb;
  if (cache != nullptr) {
    git_odb* raw = nullptr;
    if (git_repository_odb(&raw, repo) == 0) odb.reset(raw);
    ctx.odb = raw;
  }
  Status s = ScanDir(ctx, root->get(), "");
  if (!s.ok()) return s;
  if (cache != nullptr) {
    ctx.fresh.dirty = ctx.fresh.dirty || ctx.fresh.entries.size() != cache->entries.size();
    *cache = std::move(ctx.fresh);
  }
  return out;
}

Result<FlatTree> ScanFolderBeneath(git_repository* repo, int folder_fd, const std::string& rel,
                                   std::vector<std::string>* skipped, uint64_t max_file_size,
                                   std::set<std::string>* too_large) {
  UniqueFd dir(OpenBeneath(folder_fd, rel, O_RDONLY | O_DIRECTORY));
  if (!dir) return Status::IoError("cannot open folder " + rel + ": " + std::strerror(errno));
  FlatTree out;
  ScanContext ctx{repo, rel, &out, skipped, nullptr, {}, 0, max_file_size, too_large};
  Status s = ScanDir(ctx, dir.get(), "");
  if (!s.ok()) return s;
  return out;
}

}  // namespace gitsyncd
