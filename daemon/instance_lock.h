// One `gitsyncd run` per state directory: the daemon holds an exclusive flock on
// <state_dir>/gitsyncd.lock (which also records its pid) for its whole life. Everything that
// assumes it is the only writer of the state directory (replacing the control socket,
// removing libgit2 lock files left by a crash) runs only while it holds this lock.
#pragma once

#include <string>

#include "base/status.h"

namespace gitsyncd {

class InstanceLock {
 public:
  // Takes the lock without waiting. Another live daemon holding it is a Conflict:
  // "another gitsyncd (pid N) is running with state_dir DIR".
  static Result<InstanceLock> Acquire(const std::string& state_dir);
  InstanceLock(InstanceLock&& o) noexcept;
  InstanceLock& operator=(InstanceLock&& o) noexcept;
  ~InstanceLock();  // releases it (the kernel also does when the process dies)

 private:
  explicit InstanceLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace gitsyncd
