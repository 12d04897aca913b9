#include "sync/folder_staging.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

constexpr const char* kStagingPrefix = ".gitsyncd-staging-";

std::string RecordFile(const std::string& state_dir) { return state_dir + "/staging"; }

std::string RandomName() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kChars = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s = kStagingPrefix;
  for (int i = 0; i < 16; ++i) s += kChars[rng() % 36];
  return s;
}

// The record is one line of a fixed length, "<name> <inode>" for a staging folder (inode 0:
// not made yet) or "<name> <inode> <inode>" for a staging file (the new file's, then the
// replaced one's; 0: unknown), padded with spaces, or only spaces when there is neither. It
// is rewritten in place rather than through a new file and a rename: no inode is allocated for it on each pull (on ext4
// without a journal every allocation scans past the recently deleted inodes, a measurable
// share of a pull on a busy host), and a rewrite of the same length changes one sector and no
// metadata, so a crash leaves the old line or the new one.
constexpr size_t kRecordBytes = 96;

// `line`: the name and its inodes ("": none).
Status WriteRecord(const std::string& state_dir, std::string line, bool durable) {
  std::string file = RecordFile(state_dir);
  line.resize(kRecordBytes - 1, ' ');
  line += '\n';
  bool created = false;
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd && errno == ENOENT) {
    std::error_code ec;
    fs::create_directories(state_dir, ec);
    fd = UniqueFd(::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    created = true;
  }
  if (!fd) return Status::IoError("cannot write " + file + ": " + std::strerror(errno));
  struct stat st{};
  if (::pwrite(fd.get(), line.data(), line.size(), 0) != static_cast<ssize_t>(line.size()) || ::fstat(fd.get(), &st) != 0 ||
      (st.st_size != static_cast<off_t>(line.size()) && ::ftruncate(fd.get(), static_cast<off_t>(line.size())) != 0) ||
      (durable && ::fdatasync(fd.get()) != 0)) {
    return Status::IoError("cannot write " + file + ": " + std::strerror(errno));
  }
  if (created) {
    UniqueFd dir(::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir) SyncFolder(dir.get());
  }
  return Status::Ok();
}

// Removes `name` in `parent` and everything under it, following no symlink.
void RemoveTree(int parent, const std::string& name) {
  UniqueFd dir(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (dir) {
    int copy = ::dup(dir.get());
    DIR* d = copy < 0 ? nullptr : ::fdopendir(copy);
    std::vector<std::string> names;
    while (d != nullptr) {
      const dirent* ent = ::readdir(d);
      if (ent == nullptr) break;
      if (std::strcmp(ent->d_name, ".") != 0 && std::strcmp(ent->d_name, "..") != 0) names.push_back(ent->d_name);
    }
    if (d != nullptr) ::closedir(d);
    for (const auto& n : names) {
      struct stat st{};
      if (::fstatat(dir.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        RemoveTree(dir.get(), n);
      } else {
        ::unlinkat(dir.get(), n.c_str(), 0);
      }
    }
  }
  ::unlinkat(parent, name.c_str(), AT_REMOVEDIR);
}

}  // namespace

Result<std::unique_ptr<StagingFolder>> StagingFolder::Create(int folder_fd, const std::string& state_dir) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::string name = RandomName();
    Status s = WriteRecord(state_dir, name + " 0", true);
    if (!s.ok()) return s;
    if (::mkdirat(folder_fd, name.c_str(), 0700) != 0) {
      if (errno == EEXIST) continue;  // a folder of the user's: never ours, pick another name
      return Status::IoError("cannot create the staging folder " + name + ": " + std::strerror(errno));
    }
    UniqueFd fd(::openat(folder_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st{};
    if (!fd || ::fstat(fd.get(), &st) != 0) {
      ::unlinkat(folder_fd, name.c_str(), AT_REMOVEDIR);
      return Status::IoError("cannot open the staging folder " + name + ": " + std::strerror(errno));
    }
    s = WriteRecord(state_dir, name + " " + std::to_string(st.st_ino), true);
    if (!s.ok()) {
      ::unlinkat(folder_fd, name.c_str(), AT_REMOVEDIR);
      return s;
    }
    return std::unique_ptr<StagingFolder>(new StagingFolder(folder_fd, state_dir, name, std::move(fd)));
  }
  return Status::IoError("cannot pick a name for the staging folder");
}

StagingFolder::~StagingFolder() {
  RemoveTree(folder_fd_, name_);
  SyncFolder(folder_fd_);
  // Not flushed: a record that outlives a crash names a folder that is gone, and is ignored.
  (void)WriteRecord(state_dir_, "", false);
}

Result<std::unique_ptr<StagingFile>> StagingFile::Link(int folder_fd, int tmpfile, uint64_t new_inode, uint64_t old_inode,
                                                       const std::string& state_dir) {
  std::string from = "/proc/self/fd/" + std::to_string(tmpfile);
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::string name = RandomName();
    Status s = WriteRecord(state_dir, name + " " + std::to_string(new_inode) + " " + std::to_string(old_inode), true);
    if (!s.ok()) return s;
    if (::linkat(AT_FDCWD, from.c_str(), folder_fd, name.c_str(), AT_SYMLINK_FOLLOW) == 0) {
      return std::unique_ptr<StagingFile>(new StagingFile(folder_fd, state_dir, name));
    }
    if (errno != EEXIST) return Status::IoError("cannot create the staging file " + name + ": " + std::strerror(errno));
    // A file of the user's: never ours, pick another name.
  }
  return Status::IoError("cannot pick a name for the staging file");
}

StagingFile::~StagingFile() {
  ::unlinkat(folder_fd_, name_.c_str(), 0);
  SyncFolder(folder_fd_);
  (void)WriteRecord(state_dir_, "", false);  // as ~StagingFolder
}

Status RemoveStaleStaging(const std::string& folder, const std::string& state_dir) {
  std::string file = RecordFile(state_dir);
  FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return Status::Ok();
  char name[128] = {0};
  unsigned long long inode = 0, replaced = 0;
  int got = std::fscanf(f, "%127s %llu %llu", name, &inode, &replaced);
  std::fclose(f);
  std::string n = name;
  if (got < 1) return Status::Ok();  // no staging folder recorded
  if (got >= 2 && n.rfind(kStagingPrefix, 0) == 0 && n.find('/') == std::string::npos) {
    UniqueFd root(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st{};
    bool found = root && ::fstatat(root.get(), name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (got == 3 && found && S_ISREG(st.st_mode)) {
      // A staging file: the new file (killed before the exchange) or the one it replaced
      // (after). Any other inode got the name by a race with the user, and stays.
      if (st.st_ino == inode || (replaced != 0 && st.st_ino == replaced)) ::unlinkat(root.get(), name, 0);
    } else if (got == 2 && found && S_ISDIR(st.st_mode)) {
      // The recorded inode proves the folder is the one made; without it (killed between
      // mkdir and the second record) it was still empty, and only an empty folder is removed.
      if (inode != 0 && st.st_ino == inode) {
        RemoveTree(root.get(), n);
      } else if (inode == 0) {
        ::unlinkat(root.get(), name, AT_REMOVEDIR);
      }
    }
  }
  return WriteRecord(state_dir, "", true);
}

}  // namespace gitsyncd
