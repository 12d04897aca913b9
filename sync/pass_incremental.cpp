// The pass decided from the paths the folder watcher saw change, without scanning the folder.
#include "sync/object_buffer.h"
#include "sync/pass_context.h"
#include "sync/pass_timer.h"
#include "sync/remote_path.h"
#include "sync/shared_store.h"
#include "sync/yaml_check.h"

namespace gitsyncd::pass {

// The common passes decided from the changed paths alone: a local edit pushed on the synced
// commit, a remote push applied to the folder, or nothing to do. Both sides changed (a merge),
// a deleted branch, `direction: push` over a moved remote, a local edit under `direction:
// pull` (kept unpushed, with a warning), symlinks, and files turned into folders return
// nullopt: the full pass decides those.
Result<std::optional<PassOutcome>> Pass::RunIncremental(const std::set<std::string>& changed,
                                                        bool local_trigger_only) {
  using Maybe = std::optional<PassOutcome>;
  std::optional<git_oid> base = ParseOid(state_->last_synced_commit);
  if (!base || !state_->pending_commit.empty() || state_->branch_gone || spec_.api) return Maybe();
  auto base_folder = FolderTreeOfCommit(repo_, &*base, spec_.path);
  if (!base_folder.ok()) return base_folder.status();
  // The watcher reports ignored paths too (a vim swap file on every keystroke): they are no
  // local change, and are not even read.
  std::set<std::string> wanted;
  for (const auto& p : changed) {
    auto ignored = ignore_->Ignored(p);
    if (!ignored.ok()) return ignored.status();
    if (!*ignored) wanted.insert(p);
  }
  auto local = LocalChangesAt(repo_, spec_.local, base_folder->get(), wanted, spec_.max_file_size);
  if (!local.ok()) return local.status();
  if (!*local || !IsSimpleChangeList(**local)) return Maybe();
  auto kept_local = WithoutIgnored(std::move(**local));  // ignored files inside a folder that appeared
  if (!kept_local.ok()) return kept_local.status();
  const ChangeList& local_changes = *kept_local;
  // A path whose synced version is over max_file_size is not synced: the full pass keeps it.
  auto too_large = AnyTooLarge(local_changes);
  if (!too_large.ok()) return too_large.status();
  if (*too_large) return Maybe();
  MarkPassStep("local changes");
  if (spec_.direction == SyncDirection::kPull && !local_changes.empty()) return Maybe();
  state_->pending_local_changes = static_cast<uint32_t>(local_changes.size());
  if (local_trigger_only) {
    if (local_changes.empty()) return Maybe(PassOutcome{.summary = "in sync", .contacted_remote = false, .folder_in_step = true, .incremental = true});
    // Straight on the newest head known to hold this folder as synced; a rejected push (the
    // remote moved) passes again and merges.
    auto pushed = PushChanges(OptimisticParent(*base, base_folder->get()), local_changes);
    if (!pushed.ok()) return pushed.status();
    return Maybe(*pushed);
  }
  auto fetched = Fetch();
  if (!fetched.ok()) return fetched.status();
  MarkPassStep("fetch");
  if (!*fetched) return Maybe();
  const git_oid remote_head = **fetched;
  if (git_oid_equal(&remote_head, &*base)) {
    if (local_changes.empty()) return Maybe(PassOutcome{.summary = "in sync", .contacted_remote = true, .folder_in_step = true, .incremental = true});
    auto pushed = PushChanges(*base, local_changes);
    if (!pushed.ok()) return pushed.status();
    return Maybe(*pushed);
  }
  if (!local_changes.empty() || spec_.direction == SyncDirection::kPush) return Maybe();
  if (spec_.hooks.validate_remote.set() || spec_.check_tree) return Maybe();  // the full pass runs it on the whole tree
  return PullIncremental(remote_head, base_folder->get());
}

Result<std::optional<PassOutcome>> Pass::PullIncremental(const git_oid& remote_head, const git_tree* base_folder) {
  using Maybe = std::optional<PassOutcome>;
  auto remote_folder = FolderTreeOfCommit(repo_, &remote_head, spec_.path);
  if (!remote_folder.ok()) return remote_folder.status();
  auto remote_changes = DiffFolderTrees(repo_, base_folder, remote_folder->get());
  if (!remote_changes.ok() && remote_changes.status().code() == Status::Code::kCorrupted) {
    return RefusedCommit(spec_.branch, OidHex(remote_head), remote_changes.status());
  }
  if (!remote_changes.ok()) return remote_changes.status();
  if (!IsSimpleChangeList(*remote_changes)) return Maybe();
  // An ignored remote change stays in the branch (the synced commit holds it) and is not written.
  remote_changes = WithoutIgnored(std::move(remote_changes).value());
  if (!remote_changes.ok()) return remote_changes.status();
  auto too_large = AnyTooLarge(*remote_changes);
  if (!too_large.ok()) return too_large.status();
  if (*too_large) return Maybe();
  // A changed file the watcher has not reported yet (still in its debounce) is a local edit
  // too: then both sides changed, and the full pass merges.
  for (const auto& c : *remote_changes) {
    if (!ParentsAreRealFolders(spec_.local, c.path)) return Maybe();
    auto now = HashLocalFile(spec_.local + "/" + c.path);
    if (!now.ok()) return now.status();
    bool as_synced = now->has_value() == c.before.has_value() && (!c.before || **now == *c.before);
    bool as_remote = c.after && now->has_value() && **now == *c.after;
    if (!as_synced && !as_remote) return Maybe();
  }
  // Only the changed paths: every other file of the folder is as synced and stays untouched.
  FlatTree seen, target;
  for (const auto& c : *remote_changes) {
    if (c.before) seen[c.path] = *c.before;
    if (c.after) target[c.path] = *c.after;
  }
  Status valid = CheckRemoteYaml(remote_head, target, seen);
  if (!valid.ok()) return valid;
  auto pulled = ApplyRemote(remote_head, seen, target, "pulled");
  if (!pulled.ok()) return pulled.status();
  pulled->incremental = true;
  return Maybe(*pulled);
}

git_oid Pass::OptimisticParent(const git_oid& base, const git_tree* base_folder) {
  if (spec_.shared_store.empty()) return base;
  std::optional<git_oid> known = KnownSharedHead({spec_.shared_store, spec_.connector, spec_.branch});
  if (!known || git_oid_equal(&*known, &base)) return base;
  // The other bindings' pushes moved the branch, not this folder: the edit goes on top of
  // them, as a fetch first would have put it.
  auto folder = FolderTreeOfCommit(repo_, &*known, spec_.path);
  if (!folder.ok()) return base;
  bool same = (folder->get() == nullptr && base_folder == nullptr) ||
              (folder->get() != nullptr && base_folder != nullptr &&
               git_oid_equal(git_tree_id(folder->get()), git_tree_id(base_folder)));
  return same ? *known : base;
}

Result<bool> Pass::AnyTooLarge(const ChangeList& changes) {
  for (const auto& c : changes) {
    for (const auto& side : {c.before, c.after}) {
      if (!side) continue;
      auto large = TooLarge(side->oid);
      if (!large.ok() || *large) return large;
    }
  }
  return false;
}

// The incremental pass on a handle whose new objects stay in memory until it ends (see
// object_buffer.h), so a push goes out without creating a file per object first.
Result<std::optional<PassOutcome>> Pass::RunIncrementalBuffered(const std::set<std::string>& changed,
                                                                bool local_trigger_only) {
  auto buffer = ObjectBuffer::Open(spec_.binding_dir, spec_.shared_store);
  MarkPassStep("object buffer open");
  if (!buffer.ok()) return RunIncremental(changed, local_trigger_only);  // loose objects, as the full pass
  git_repository* disk = repo_;
  repo_ = (*buffer)->repo();
  buffered_.clear();
  auto result = RunIncremental(changed, local_trigger_only);
  repo_ = disk;
  // Before anything names them in state.json, and before the full pass runs on `disk`.
  Status stored = (*buffer)->WriteTo(disk, buffered_);
  MarkPassStep("objects stored");
  if (!stored.ok()) return stored;
  return result;
}

}  // namespace gitsyncd::pass
