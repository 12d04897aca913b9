#include "sync/conflicts.h"

#include <algorithm>

#include "sync/binding_repo.h"
#include "sync/git_handles.h"
#include "sync/remote_ops.h"

namespace gitsyncd {

Status ResolveConflict(const BindingSpec& spec, BindingState* state, const std::string& branch, bool delete_branch) {
  auto it = std::find_if(state->conflicts.begin(), state->conflicts.end(),
                         [&](const ConflictRecord& c) { return c.branch == branch; });
  if (it == state->conflicts.end()) {
    return Status::NotFound("sync '" + spec.name + "' has no conflict branch '" + branch + "' (`gitsyncd conflicts " +
                            spec.name + "` lists them)");
  }
  // Records name only branches gitsyncd made; anything else in a hand-edited state.json is
  // never deleted.
  if (delete_branch && it->branch.rfind(kConflictBranchPrefix, 0) == 0) {
    EnsureLibgit2();
    auto repo = OpenBindingRepo(spec.binding_dir, spec.shared_store);
    if (!repo.ok()) return repo.status().WithContext("cannot open the repository of sync '" + spec.name + "'");
    Status deleted = DeleteRemoteBranch(repo->get(), spec.remote, branch);
    if (!deleted.ok()) return deleted.WithContext("cannot delete branch " + branch);
  }
  if (!it->resolved) it->resolved_time = NowIso8601();
  it->resolved = true;
  return Status::Ok();
}

}  // namespace gitsyncd
