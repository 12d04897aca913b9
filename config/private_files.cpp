#include "config/private_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;

std::string Errno() { return std::strerror(errno); }

Status WriteAll(int fd, std::string_view data, const std::string& what) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IoError("cannot write " + what + ": " + Errno());
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

void GiveToFolderOwner(int fd, const std::string& folder) {
  // Only root writes on behalf of another user; others cannot chown, and need not.
  if (::geteuid() != 0) return;
  struct stat st {};
  if (::stat(folder.empty() ? "." : folder.c_str(), &st) != 0 || st.st_uid == 0) return;
  if (::fchown(fd, st.st_uid, st.st_gid) != 0) {
    // Best effort: the file stays root's, and the service names it when it cannot read it.
  }
}

Status MakePrivateDirs(const std::string& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return Status::Ok();
  fs::path parent = fs::path(dir).parent_path();
  if (!parent.empty() && parent != fs::path(dir)) {
    Status s = MakePrivateDirs(parent.string());
    if (!s.ok()) return s;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return Status::IoError("cannot create " + dir + ": " + Errno());
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + dir + ": " + Errno());
  GiveToFolderOwner(fd, parent.string());
  ::close(fd);
  return Status::Ok();
}

Status WritePrivateFile(const std::string& path, std::string_view data) {
  std::string dir = fs::path(path).parent_path().string();
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status::IoError("cannot create a temp file in " + dir + ": " + Errno());
  ::fchmod(fd, 0600);
  GiveToFolderOwner(fd, dir);
  Status s = WriteAll(fd, data, tmp);
  if (s.ok() && ::fsync(fd) != 0) s = Status::IoError("cannot flush " + tmp + ": " + Errno());
  if (::close(fd) != 0 && s.ok()) s = Status::IoError("cannot close " + tmp + ": " + Errno());
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = Status::IoError("cannot replace " + path + ": " + Errno());
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace gitsyncd
