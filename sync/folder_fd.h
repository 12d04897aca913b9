// File operations inside a synced folder that cannot be redirected: every path is resolved
// beneath an open descriptor of the folder and no symlink is followed on the way, so a link
// a local user swaps in between a check and a write cannot take the write (or a read)
// outside the folder.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace gitsyncd {

// A file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  int release();
  void reset(int fd = -1);
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Opens the synced folder itself; refused when it is a symlink or not a directory.
Result<UniqueFd> OpenFolder(const std::string& folder);

// Opens `rel` ('/'-separated, relative) beneath `dir`, following no symlink anywhere and never
// leaving `dir`: openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or a walk of O_NOFOLLOW
// opens on kernels without it. Returns the descriptor, or -1 with errno set: ELOOP (a symlink
// on the way or at the end), ENOTDIR (a file on the way), ENOENT, EXDEV ("..", "." or an
// absolute path).
int OpenBeneath(int dir, const std::string& rel, int flags, mode_t mode = 0);

// The folder holding `rel` beneath `dir` (-1 with errno as OpenBeneath), with `rel`'s last
// name in `*leaf`. With `created` non-null, missing folders on the way are made and their
// paths (relative to `dir`, outermost first) appended to it.
int OpenParentBeneath(int dir, const std::string& rel, std::string* leaf, std::vector<std::string>* created = nullptr);

// Reads an open regular file whole, refusing more than `limit` bytes (kInvalidArgument);
// `what` names it in errors.
Result<std::string> ReadOpenFile(int fd, const std::string& what, uint64_t limit);

// Writes `size` bytes to `fd` and fsyncs it; `what` names it in errors.
Status WriteAndSync(int fd, const char* data, size_t size, const std::string& what);

// fsync of a folder: makes the names created, renamed or removed in it durable.
void SyncFolder(int dir);

// Test-only: false makes OpenBeneath take the O_NOFOLLOW walk even where openat2 exists.
void UseOpenat2ForTest(bool use);

}  // namespace gitsyncd
