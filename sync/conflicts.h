// The conflict branches a merge pushed (docs/sync.md, "Both sides changed") after a person
// dealt with them: marked resolved in the binding's state, and deleted on the remote if asked.
#pragma once

#include <string>

#include "base/status.h"
#include "sync/binding_state.h"
#include "sync/sync_pass.h"

namespace gitsyncd {

// Every branch gitsyncd pushes a conflict's losing side to starts with this.
inline constexpr const char* kConflictBranchPrefix = "gitsyncd/conflicts/";

// Marks conflict `branch` of the binding resolved in `state` (the caller saves it). With
// `delete_branch`, the branch is first deleted on the remote (a push of the deletion, never
// forced; a branch already gone counts as deleted); if that fails, nothing is marked. NotFound
// when the binding recorded no such conflict.
Status ResolveConflict(const BindingSpec& spec, BindingState* state, const std::string& branch, bool delete_branch);

}  // namespace gitsyncd
