// Reading and hashing single local files, never through a symlink.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sync/folder_fd.h"
#include "sync/folder_tree.h"

namespace gitsyncd {
namespace {

// Hashes the open file `fd` (named `what` in errors) as a blob, or an odd entry (mode 0) when
// it is not a regular file.
Result<std::optional<FileEntry>> HashOpenFile(int fd, const std::string& what) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return Status::IoError("cannot stat " + what + ": " + std::strerror(errno));
  FileEntry e;
  if (!S_ISREG(st.st_mode)) {
    e.mode = 0;  // a folder or special file where a file was: never equal to any blob entry
    return std::optional<FileEntry>(e);
  }
  auto data = ReadOpenFile(fd, what, kMaxFileBytes);
  if (!data.ok()) return data.status();
  e.mode = BlobModeOf(st.st_mode);
  int rc = git_odb_hash(&e.oid, data->data(), data->size(), GIT_OBJECT_BLOB);
  if (rc < 0) return GitError(rc, "cannot hash " + what);
  return std::optional<FileEntry>(e);
}

}  // namespace

uint32_t BlobModeOf(mode_t st_mode) {
  return (st_mode & S_IXUSR) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
}

Result<std::string> ReadLocalFile(const std::string& path, uint64_t limit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return Status::IoError("cannot read " + path + ": " + std::strerror(errno));
  return ReadOpenFile(fd.get(), path, limit);
}

Result<std::optional<FileEntry>> HashLocalFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<FileEntry>();
    if (errno != ELOOP) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
    FileEntry link;
    link.mode = 0;
    return std::optional<FileEntry>(link);
  }
  return HashOpenFile(fd.get(), path);
}

Result<std::optional<FileEntry>> HashBeneath(int folder_fd, const std::string& rel) {
  UniqueFd fd(OpenBeneath(folder_fd, rel, O_RDONLY | O_NONBLOCK));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<FileEntry>();
    if (errno != ELOOP && errno != EXDEV) return Status::IoError("cannot open " + rel + ": " + std::strerror(errno));
    FileEntry link;  // a symlink there or on the way
    link.mode = 0;
    return std::optional<FileEntry>(link);
  }
  return HashOpenFile(fd.get(), rel);
}

bool ParentsAreRealFolders(const std::string& folder, const std::string& path) {
  auto root = OpenFolder(folder);
  if (!root.ok()) return false;
  std::string leaf;
  UniqueFd parent(OpenParentBeneath(root->get(), path, &leaf));
  return parent || errno == ENOENT;  // a missing folder is created later as a real one
}

}  // namespace gitsyncd
