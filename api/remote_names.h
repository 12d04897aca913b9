// The one check for names that come from a remote (a fetched Git tree, a provider API
// listing) before they become paths in the local folder. It refuses what git's own verify_path
// refuses with core.protectNTFS and core.protectHFS on, plus what a folder cannot hold:
//   - an empty name, ".", "..", a "/", NUL or backslash inside a name, a name over 255 bytes;
//   - ".git" in any letter case, and the names NTFS or HFS+ would open as ".git": trailing
//     dots or spaces (".git. "), an NTFS stream (".git::$INDEX_ALLOCATION"), the 8.3 short
//     name "git~1", and ".git" with code points HFS+ ignores (U+200C..U+200F, U+FEFF, ...).
// Whole trees are checked by sync/remote_path.h on top of this.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace gitsyncd {

inline constexpr size_t kMaxRemoteNameBytes = 255;
inline constexpr size_t kMaxRemotePathBytes = 4095;

// Why `name` (one path component) may not be written into the folder; nullopt when it may.
std::optional<std::string> RemoteNameProblem(std::string_view name);

// Every component of the '/'-separated `path`, and its length. The error is
// Status::Corrupted: "unsafe path 'a/../b' ('..' is not a file name)".
Status CheckRemotePath(std::string_view path);

// The error for `path` refused for `why`, in the form above (NUL bytes shown as \0).
Status UnsafeRemotePath(std::string_view path, const std::string& why);

}  // namespace gitsyncd
