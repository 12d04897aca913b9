// The dry run: the full pass's reading half (scan, fetch, compare, merge in memory), stopping
// before anything is written to the folder, pushed, or recorded in state.json.
#include <filesystem>

#include "sync/pass_context.h"
#include "sync/remote_path.h"

namespace gitsyncd {
namespace pass {

Result<PassPlan> Pass::Plan() {
  PassPlan plan;
  std::vector<std::string> skipped;
  ScanCache cache = LoadScanCache(spec_.binding_dir + "/scan-cache");  // read, never saved here
  std::error_code ec;
  bool folder_exists = std::filesystem::exists(std::filesystem::symlink_status(spec_.local, ec));
  // A missing folder is empty; ScanFolder would create it.
  auto scanned = folder_exists ? ScanFolder(repo_, spec_.local, &skipped, &cache, spec_.max_file_size,
                                            &too_large_local_, ignore_)
                               : Result<FlatTree>(FlatTree{});
  if (!scanned.ok()) return scanned.status();
  std::optional<git_oid> base = ParseOid(state_->last_synced_commit);
  auto base_tree = SubtreeOfCommit(repo_, base ? &*base : nullptr, spec_.path);
  if (!base_tree.ok()) return base_tree.status();
  auto fetched = Fetch();
  if (!fetched.ok()) return fetched.status();
  std::optional<git_oid> remote_head = *fetched;
  if (!remote_head) {
    plan.notes.push_back(base ? "branch " + spec_.branch + " no longer exists: nothing would be pushed or pulled"
                              : "branch " + spec_.branch + " does not exist yet: the local files would create it");
  }
  if (remote_head) plan.remote_head = OidHex(*remote_head);
  auto remote_folder = FolderTreeOfCommit(repo_, remote_head ? &*remote_head : nullptr, spec_.path);
  if (!remote_folder.ok()) return remote_folder.status();
  Status sane = CheckRemoteTree(repo_, remote_folder->get());
  if (!sane.ok()) return RefusedCommit(spec_.branch, plan.remote_head, sane);
  auto remote = FlattenTree(remote_folder->get());
  if (!remote.ok()) return remote.status();
  Status found = FindNotSynced(*scanned, *remote, false);
  if (!found.ok()) return found;
  FlatTree local = LocalView(*scanned);
  std::vector<std::string> local_changes = ChangedPaths(Synced(*base_tree), Synced(local));
  std::vector<std::string> remote_changes = ChangedPaths(Synced(*base_tree), Synced(*remote));
  if (base && !remote_head) return plan;
  if (spec_.direction == SyncDirection::kPull) {
    if (!local_changes.empty()) plan.notes.push_back("local edits are not pushed (direction: pull)");
  } else {
    plan.push = local_changes;
  }
  if (spec_.direction == SyncDirection::kPush) {
    if (!remote_changes.empty()) plan.notes.push_back("remote changes are not written (direction: push)");
  } else {
    plan.pull = remote_changes;
  }
  if (spec_.direction == SyncDirection::kBidirectional && !plan.push.empty() && !plan.pull.empty()) {
    auto trees = MergeTrees(*base_tree, local, *remote);  // objects only, nothing applied
    if (!trees.ok()) return trees.status();
    plan.conflicts = trees->conflicted;
    plan.notes.push_back("both sides changed: the changes would be merged (on_conflict: " +
                         std::string(ConflictPolicyName(spec_.on_conflict)) + ")");
  }
  return plan;
}

}  // namespace pass

Result<PassPlan> PlanSyncPass(const BindingSpec& spec) {
  auto state = LoadBindingState(spec.binding_dir);
  if (!state.ok()) return state.status();
  auto repo = pass::OpenRepo(spec.binding_dir, spec.shared_store);
  if (!repo.ok()) return repo.status();
  auto ignore = IgnoreMatcher::Open(spec.binding_dir, spec.local, spec.ignore_rules, spec.shared_store);
  if (!ignore.ok()) return ignore.status();
  BindingState scratch = *state;  // the pass may note warnings; none of it is saved
  pass::Pass pass(spec, repo->get(), &scratch, std::chrono::steady_clock::now(), ignore->get());
  return pass.Plan();
}

}  // namespace gitsyncd
