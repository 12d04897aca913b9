#include "sync/folder_fd.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace gitsyncd {
namespace {

std::atomic<bool> g_try_openat2{true};

// The names of `rel`, or false when one is empty, "." or ".." (or `rel` is absolute): a path
// inside a synced folder never needs them.
bool SplitPath(const std::string& rel, std::vector<std::string>* parts) {
  size_t start = 0;
  while (true) {
    size_t slash = rel.find('/', start);
    std::string part = rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    parts->push_back(std::move(part));
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

// -1 with errno ENOSYS when the kernel (or a seccomp filter) has no openat2.
int Openat2(int dir, const std::string& rel, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0; attempt < 8; ++attempt) {
    long fd = ::syscall(SYS_openat2, dir, rel.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno == EAGAIN || errno == EINTR) continue;  // a concurrent rename; resolve again
    if (errno == EPERM && (flags & O_NOATIME) == 0) errno = ENOSYS;  // filtered out by seccomp
    return -1;
  }
  return -1;
}

// The same with openat, one name at a time, each opened with O_NOFOLLOW relative to the last.
int WalkOpen(int dir, const std::vector<std::string>& parts, int flags, mode_t mode) {
  UniqueFd cur;
  int at = dir;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    int next = ::openat(at, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) return -1;
    cur.reset(next);
    at = next;
  }
  return ::openat(at, parts.back().c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

int UniqueFd::release() {
  int f = fd_;
  fd_ = -1;
  return f;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<UniqueFd> OpenFolder(const std::string& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP || err == ENOTDIR) return Status::InvalidArgument("local folder " + folder + " is not a directory");
    return Status::IoError("cannot open local folder " + folder + ": " + std::strerror(err));
  }
  return UniqueFd(fd);
}

int OpenBeneath(int dir, const std::string& rel, int flags, mode_t mode) {
  std::vector<std::string> parts;
  if (!SplitPath(rel, &parts)) {
    errno = EXDEV;
    return -1;
  }
  if (g_try_openat2.load(std::memory_order_relaxed)) {
    int fd = Openat2(dir, rel, flags, mode);
    if (fd >= 0 || errno != ENOSYS) return fd;
    g_try_openat2.store(false, std::memory_order_relaxed);
  }
  return WalkOpen(dir, parts, flags, mode);
}

int OpenParentBeneath(int dir, const std::string& rel, std::string* leaf, std::vector<std::string>* created) {
  std::vector<std::string> parts;
  if (!SplitPath(rel, &parts)) {
    errno = EXDEV;
    return -1;
  }
  *leaf = parts.back();
  parts.pop_back();
  if (parts.empty()) return ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (created == nullptr) return OpenBeneath(dir, rel.substr(0, rel.rfind('/')), O_RDONLY | O_DIRECTORY);
  UniqueFd cur;
  int at = dir;
  std::string path;
  for (const auto& part : parts) {
    path += (path.empty() ? "" : "/") + part;
    int next = ::openat(at, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT) {
      if (::mkdirat(at, part.c_str(), 0755) == 0) {
        created->push_back(path);
      } else if (errno != EEXIST) {
        return -1;
      }
      next = ::openat(at, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) return -1;
    cur.reset(next);
    at = next;
  }
  return cur.release();
}

Result<std::string> ReadOpenFile(int fd, const std::string& what, uint64_t limit) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return Status::IoError("cannot stat " + what + ": " + std::strerror(errno));
  if (static_cast<uint64_t>(st.st_size) > limit) {
    return Status::InvalidArgument("file " + what + " is larger than " + std::to_string(limit / (1024 * 1024)) +
                                   " MiB; not synced");
  }
  std::string data;
  data.resize(static_cast<size_t>(st.st_size));
  size_t off = 0;
  while (true) {
    if (off == data.size()) data.resize(data.size() + 4096);
    ssize_t n = ::read(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError("cannot read " + what + ": " + std::strerror(errno));
    if (n == 0) break;
    off += static_cast<size_t>(n);
    if (off > limit) return Status::InvalidArgument("file " + what + " grew past the size limit while being read");
  }
  data.resize(off);
  return data;
}

Status WriteAndSync(int fd, const char* data, size_t size, const std::string& what) {
  size_t off = 0;
  while (off < size) {
    ssize_t n = ::write(fd, data + off, size - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IoError("cannot write " + what + ": " + std::strerror(n < 0 ? errno : ENOSPC));
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return Status::IoError("cannot flush " + what + ": " + std::strerror(errno));
  return Status::Ok();
}

void SyncFolder(int dir) { ::fsync(dir); }

void UseOpenat2ForTest(bool use) { g_try_openat2.store(use); }

}  // namespace gitsyncd
