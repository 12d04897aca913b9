// Applying a commit's folder to the local folder as a unit, without losing a local edit and
// without ever writing outside the folder.
#pragma once

#include <git2.h>

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "sync/folder_tree.h"

namespace gitsyncd {

struct ApplyReport {
  std::vector<std::string> written;
  std::vector<std::string> deleted;
  std::vector<std::string> kept;  // changed locally since the scan (or a symlink on the way): left alone
};

// How the files and folders a pull creates are made: these modes whatever the process umask
// (a file Git marks executable also gets x where file_mode has r), and `group` when it is not
// -1 (the daemon's user must belong to it; otherwise the pull fails, naming the group).
struct FolderOwnership {
  uint32_t file_mode = 0644;
  uint32_t dir_mode = 0755;
  int64_t group = -1;
};

// Makes `folder` hold `target`, given that the scan saw `scanned`. A file is replaced or
// deleted only while it still equals `scanned` (or already equals `target`); any other file
// is left as it is and listed in `kept`.
//  1. Every new file is written and fsynced in a staging folder inside `folder` (see
//     folder_staging.h; its record lives in `state_dir`). A commit that only adds up to 32
//     files writes them as unnamed files (O_TMPFILE) in `folder` instead, where the file
//     system has them: they need no staging folder or record, since a crash before they are
//     linked in leaves nothing. A commit that replaces one file and does nothing else writes
//     it the same way and links it in under a recorded name of its own (a staging file) to
//     be exchanged with the file. If writing fails (disk full, no permission), nothing in the
//     folder has changed and the error is returned.
//  2. Then deletions and new files are swapped in, one rename (or link) each. Each file taken out of
//     the folder is hashed again: one that is not what the check hashed (an edit saved in
//     the meantime) is put back and kept, so the next pass pushes or merges it. If a rename
//     fails, the renames done so far are undone.
// Every path is resolved beneath the folder's descriptor with no symlink followed.
// Unmanaged target entries (symlinks, submodules) are skipped.
Status ApplyToFolder(git_repository* repo, const std::string& folder, const std::string& state_dir,
                     const FlatTree& scanned, const FlatTree& target, ApplyReport* report,
                     const FolderOwnership& ownership = {});

// Test-only: called at fixed moments of ApplyToFolder so a test can play a local user racing
// a pull, deterministically: "checked" (`path` was hashed and is to be replaced or deleted),
// "staged" (every new file is staged, nothing swapped in yet), "swapped" (everything is in
// place, before the last check of the files taken out). Empty in production.
using ApplyHook = std::function<void(const std::string& moment, const std::string& path)>;
void SetApplyHookForTest(ApplyHook hook);

}  // namespace gitsyncd
