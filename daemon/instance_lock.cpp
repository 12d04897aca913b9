#include "daemon/instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace gitsyncd {
namespace {

// The pid the holder wrote; it writes right after locking, so a reader racing it may see an
// empty file for a moment.
std::string HolderPid(int fd) {
  char buf[32] = {};
  for (int attempt = 0; attempt < 20; ++attempt) {
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) {
      std::string pid(buf, static_cast<size_t>(n));
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      if (!pid.empty()) return pid;
    }
    ::usleep(10000);
  }
  return "unknown";
}

}  // namespace

Result<InstanceLock> InstanceLock::Acquire(const std::string& state_dir) {
  std::string path = state_dir + "/gitsyncd.lock";
  // O_CLOEXEC: a child process (ssh, a credential helper) must not keep the lock alive.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  InstanceLock lock(fd);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      return Status::Conflict("another gitsyncd (pid " + HolderPid(fd) + ") is running with state_dir " + state_dir);
    }
    return Status::IoError("cannot lock " + path + ": " + std::strerror(errno));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return Status::IoError("cannot write " + path + ": " + std::strerror(errno));
  }
  return lock;
}

InstanceLock::InstanceLock(InstanceLock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

InstanceLock& InstanceLock::operator=(InstanceLock&& o) noexcept {
  std::swap(fd_, o.fd_);
  return *this;
}

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace gitsyncd
