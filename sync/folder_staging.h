// The daemon's private staging folder inside a synced folder: a commit's new files are written
// there before any of them replaces a file, and the files taken out of the folder wait there
// until they are checked. Its name is random and the binding's state dir records it (and then
// its inode) before anything is put in it, so the daemon only ever removes a folder it can
// prove it made: nothing in a synced folder is removed because of its name. A commit that
// replaces a single file uses a staging file instead, recorded the same way.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "sync/folder_fd.h"

namespace gitsyncd {

class StagingFolder {
 public:
  // Makes one in the open folder `folder_fd`, recorded in `<state_dir>/staging`.
  static Result<std::unique_ptr<StagingFolder>> Create(int folder_fd, const std::string& state_dir);
  ~StagingFolder();  // removes it, whatever it holds, then the record
  StagingFolder(const StagingFolder&) = delete;
  StagingFolder& operator=(const StagingFolder&) = delete;

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }

 private:
  StagingFolder(int folder_fd, std::string state_dir, std::string name, UniqueFd fd)
      : folder_fd_(folder_fd), state_dir_(std::move(state_dir)), name_(std::move(name)), fd_(std::move(fd)) {}
  int folder_fd_;
  std::string state_dir_;
  std::string name_;
  UniqueFd fd_;
};

// The way out for the one file a commit replaces when it does nothing else (the usual edit of
// one config file), with no staging folder: the new file, written as an O_TMPFILE at the top
// of the synced folder, is linked in there under a random name, recorded first with its inode
// and that of the file it is to replace, so whichever of the two a crash leaves under the name
// is proven ours. The caller then exchanges it with the file and checks what came out.
class StagingFile {
 public:
  // Links `tmpfile` (inode `new_inode`) into `folder_fd`; `old_inode`: the file's (0: unknown).
  static Result<std::unique_ptr<StagingFile>> Link(int folder_fd, int tmpfile, uint64_t new_inode, uint64_t old_inode,
                                                   const std::string& state_dir);
  ~StagingFile();  // unlinks the name, whatever it holds now, then blanks the record
  StagingFile(const StagingFile&) = delete;
  StagingFile& operator=(const StagingFile&) = delete;

  const std::string& name() const { return name_; }

 private:
  StagingFile(int folder_fd, std::string state_dir, std::string name)
      : folder_fd_(folder_fd), state_dir_(std::move(state_dir)), name_(std::move(name)) {}
  int folder_fd_;
  std::string state_dir_;
  std::string name_;
};

// Removes the staging folder (or file) a killed run left in `folder`, as `<state_dir>/staging` names it.
// Call it before the folder is scanned.
Status RemoveStaleStaging(const std::string& folder, const std::string& state_dir);

}  // namespace gitsyncd
