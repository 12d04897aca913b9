// Checks a whole tree that came from a remote before anything of it is used, with the one
// name check of api/remote_names.h on every entry, plus what only a tree can get wrong: two
// entries of the same name in one folder, and nesting deeper than kMaxRemoteDepth. A refused
// tree refuses its whole commit: the caller applies and pushes nothing of it.
#pragma once

#include <git2.h>

#include <string>

#include "api/remote_names.h"
#include "base/status.h"

namespace gitsyncd {

inline constexpr size_t kMaxRemoteDepth = 256;

// Every entry of `tree` (null = empty) and of its subtrees; paths reported relative to it.
Status CheckRemoteTree(git_repository* repo, const git_tree* tree);

// The status a pass reports for a refused commit: it names the branch, the commit and the
// reason (`problem`, from the checks above), and says what happens next.
Status RefusedCommit(const std::string& branch, const std::string& commit, const Status& problem);

}  // namespace gitsyncd
