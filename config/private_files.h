// Small private files in the state directory (secrets, webhook token hashes): written whole or
// not at all, readable only by their owner, and owned by whoever owns the folder they are in,
// so the root-run CLI never leaves a file the service user cannot read.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace gitsyncd {

// Run as root: hands the open file `fd` to the owner of `folder` when that is not root (the
// service user, for a state directory systemd created). Otherwise does nothing.
void GiveToFolderOwner(int fd, const std::string& folder);

// Creates `dir` and missing parents with mode 0700. Run as root, each folder created takes the
// owner of the nearest existing parent.
Status MakePrivateDirs(const std::string& dir);

// Replaces `path` with `data` atomically (temp file 0600 in the same folder, fsync, rename,
// fsync of the folder): a crash leaves the old or the new file. Run as root, the file takes the
// owner of its folder.
Status WritePrivateFile(const std::string& path, std::string_view data);

}  // namespace gitsyncd
