// The full pass (the whole folder against the last synced commit and the remote head) and the
// driver that retries a rejected push and records the outcome in state.json.
#include "sync/sync_pass.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "sync/folder_staging.h"
#include "sync/pass_context.h"
#include "sync/pass_timer.h"
#include "sync/remote_path.h"
#include "sync/repo_maintenance.h"
#include "sync/shared_store.h"
#include "sync/yaml_check.h"

namespace gitsyncd {
namespace pass {

Result<PassOutcome> Pass::Run(const PassOptions& options) {
  fetch_not_before_ = options.fetch_not_before;
  Result<PassOutcome> outcome = Status::Internal("no pass ran");
  std::optional<PassOutcome> fast_outcome;
  if (options.changed_paths != nullptr) {
    auto fast = RunIncrementalBuffered(*options.changed_paths, options.local_trigger_only);
    if (!fast.ok()) return fast.status();
    fast_outcome = *fast;
  }
  outcome = fast_outcome ? Result<PassOutcome>(*fast_outcome) : RunFull(options.local_trigger_only);
  if (outcome.ok()) AfterPull();
  return outcome;
}

Result<PassOutcome> Pass::RunFull(bool local_trigger_only) {
  std::vector<std::string> skipped;
  std::string cache_file = spec_.binding_dir + "/scan-cache";
  ScanCache cache = LoadScanCache(cache_file);
  auto scanned =
      ScanFolder(repo_, spec_.local, &skipped, &cache, spec_.max_file_size, &too_large_local_, ignore_);
  if (!scanned.ok()) return scanned.status();
  if (cache.dirty) SaveScanCache(cache_file, cache);  // only a speed-up: a failure costs a re-read
  MarkPassStep("scan");
  std::optional<git_oid> base = ParseOid(state_->last_synced_commit);
  auto base_tree = SubtreeOfCommit(repo_, base ? &*base : nullptr, spec_.path);
  if (!base_tree.ok()) return base_tree.status();
  state_->warnings = skipped;

  if (local_trigger_only && state_->pending_commit.empty() && base && !state_->branch_gone) {
    Status found = FindNotSynced(*scanned, *base_tree, false);
    if (!found.ok()) return found;
    FlatTree local = LocalView(*scanned);
    if (Managed(local) == Managed(*base_tree)) return PassOutcome{.summary = "in sync", .contacted_remote = false, .folder_in_step = true};
    // A local edit on top of the last synced state: push it straight on the last synced
    // commit. If the remote moved meanwhile the push is rejected (never forced) and the full
    // path below fetches and merges. This saves a fetch round trip for the common case.
    if (spec_.direction != SyncDirection::kPull) {
      auto pushed = PushLocal(base, local, *base_tree);
      if (pushed.ok() || pushed.status().code() != Status::Code::kConflict) return pushed;
    }
  }

  auto fetched = Fetch();
  if (!fetched.ok()) return fetched.status();
  MarkPassStep("fetch");
  std::optional<git_oid> remote_head = *fetched;
  auto remote_folder = FolderTreeOfCommit(repo_, remote_head ? &*remote_head : nullptr, spec_.path);
  if (!remote_folder.ok()) return remote_folder.status();
  // Checked before anything of the commit is used: a refused commit is refused whole.
  Status sane = CheckRemoteTree(repo_, remote_folder->get());
  if (!sane.ok()) return RefusedCommit(spec_.branch, OidHex(*remote_head), sane);
  auto remote = FlattenTree(remote_folder->get());
  if (!remote.ok()) return remote.status();
  if (remote_head && spec_.direction != SyncDirection::kPush && Managed(*remote) != Managed(*base_tree)) {
    Status valid = ValidateRemote(*remote_head, *base_tree, *remote);
    if (!valid.ok()) return RefusedCommit(spec_.branch, OidHex(*remote_head), valid);
  }
  Status found = FindNotSynced(*scanned, *remote, true);
  if (!found.ok()) return found;

  if (!state_->pending_commit.empty()) {
    auto recovered = RecoverPending(remote_head, *scanned, *remote);
    if (!recovered.ok()) return recovered.status();
    if (*recovered) {
      PassOutcome out{"finished applying an interrupted merge", true};
      out.direction = "merge";
      return out;
    }
  }

  state_->branch_gone = base && !remote_head;
  if (state_->branch_gone) {
    // A deleted branch never deletes the folder, and is not re-created by a local edit either:
    // deleting it was someone's decision on the remote.
    return Status::NotFound("branch " + spec_.branch + " no longer exists on " + spec_.remote.url +
                            ": the local folder is kept as it is and nothing is pushed, local edits "
                            "included, until the branch exists again (re-create it, or point the sync at "
                            "another branch)");
  }
  return Reconcile(base, *base_tree, remote_head, *scanned, *remote);
}

// The decision table of docs/sync.md ("One pass") over whole trees.
Result<PassOutcome> Pass::Reconcile(const std::optional<git_oid>& base, const FlatTree& base_full,
                                    const std::optional<git_oid>& remote_head, const FlatTree& scanned,
                                    const FlatTree& remote) {
  // What the folder means for the repository: its files plus what it does not sync.
  FlatTree local = LocalView(scanned);
  // Judged on synced paths only: a remote change to an ignored (or too large) file shows in
  // `local` as the branch's entry, which is no local edit.
  bool local_changed = Synced(local) != Synced(base_full);
  bool remote_changed = remote != base_full;
  state_->pending_local_changes = static_cast<uint32_t>(ChangedPaths(Synced(base_full), Synced(local)).size());

  if (local == remote) {
    if (remote_head && (!base || !git_oid_equal(&*base, &*remote_head))) {
      state_->pending_local_changes = 0;
      Status s = SaveSynced(*remote_head);
      if (!s.ok()) return s;
    }
    return PassOutcome{.summary = "in sync", .contacted_remote = true, .folder_in_step = true};
  }
  switch (spec_.direction) {
    case SyncDirection::kPush:
      if (!base && Managed(local).empty() && !Managed(remote).empty()) {
        // An empty (or not yet filled) folder is no reason to empty the branch: on a first
        // sync nothing says the folder is meant to be empty, so this waits for a person.
        return Status::InvalidArgument("folder " + spec_.local + " is empty on the first sync of this push binding, and " +
                                spec_.branch + (spec_.path.empty() ? "" : ":" + spec_.path) + " holds " +
                                std::to_string(Managed(remote).size()) +
                                " files: refusing to push their deletion; put the files in the folder first "
                                "(with direction: push it is the source), or delete them on the branch");
      }
      return PushLocal(remote_head, local, remote);
    case SyncDirection::kPull: {
      if (!remote_changed) {
        if (local_changed) state_->warnings.push_back("local edits are not pushed (direction: pull)");
        return PassOutcome{.summary = "in sync (local edits kept)", .contacted_remote = true};
      }
      auto pulled = PullKeepingLocalEdits(*remote_head, base_full, scanned, local, remote);
      if (pulled.ok() && local_changed) pulled->folder_in_step = false;  // local edits stay unsynced
      return pulled;
    }
    case SyncDirection::kBidirectional:
      break;
  }
  if (!remote_changed) return PushLocal(remote_head, local, remote);
  if (!local_changed) {
    Status valid = CheckRemoteYaml(remote_head, remote, local);
    if (!valid.ok()) return valid;
    return ApplyRemote(*remote_head, scanned, remote, "pulled");
  }
  return Merge(base, base_full, remote_head, scanned, local, remote);
}

// direction: pull. Local edits stay: the target keeps the local version of every locally
// changed file.
Result<PassOutcome> Pass::PullKeepingLocalEdits(const git_oid& remote_head, const FlatTree& base_full,
                                                const FlatTree& scanned, const FlatTree& local,
                                                const FlatTree& remote) {
  FlatTree target = remote;
  for (const auto& [p, e] : Synced(base_full)) {
    auto l = local.find(p);
    if (l == local.end() || !(l->second == e)) target.erase(p);
  }
  for (const auto& [p, e] : Synced(local)) {
    auto b = base_full.find(p);
    if (b == base_full.end() || !(b->second == e)) {
      target[p] = e;
      state_->warnings.push_back("local edit to " + p + " kept; not pushed (direction: pull)");
    }
  }
  Status valid = CheckRemoteYaml(remote_head, target, local);
  if (!valid.ok()) return valid;
  return ApplyRemote(remote_head, scanned, target, "pulled");
}

Status Pass::CheckRemoteYaml(const std::optional<git_oid>& remote_head, const FlatTree& files,
                             const FlatTree& unchanged_from, const FlatTree* remote) {
  YamlFault fault;
  Status valid = CheckYamlFiles(repo_, files, unchanged_from, "remote", &state_->warnings, &fault);
  if (valid.ok() || !remote_head || fault.path.empty()) return valid;
  if (remote != nullptr) {
    auto theirs = remote->find(fault.path);
    auto checked = files.find(fault.path);
    if (theirs == remote->end() || checked == files.end() || !(theirs->second == checked->second)) return valid;
  }
  state_->refused = {OidHex(*remote_head), "yaml", fault.path, fault.line};
  return valid;
}


}  // namespace pass

namespace {
constexpr int kMaxPushAttempts = 5;
}  // namespace

BindingSpec MakeBindingSpec(const DaemonConfig& daemon, const ConnectorConfig& connector, const SyncBinding& sync,
                            RemoteCredentials remote) {
  BindingSpec spec;
  spec.name = sync.name;
  spec.branch = sync.branch;
  spec.path = sync.path;
  spec.local = sync.local;
  spec.binding_dir = BindingStateDir(daemon, sync.name);
  spec.direction = sync.direction;
  spec.on_conflict = sync.on_conflict;
  spec.author = connector.commit_author;
  spec.max_file_size = sync.max_file_size.value_or(daemon.max_file_size);
  spec.ownership = FolderOwnership{sync.file_mode, sync.dir_mode, sync.gid};
  spec.ignore_rules = sync.ignore_rules;
  if (!sync.commit_message.empty()) spec.commit_message = sync.commit_message;
  spec.connector = connector.name;
  spec.hooks = sync.hooks;
  if (connector.fetch != FetchMode::kApi) spec.shared_store = SharedStoreDir(daemon.state_dir, sync.remote_url);
  if (connector.fetch == FetchMode::kApi) {
    ApiTarget api;
    api.provider = connector.provider;
    api.api_base = connector.api.url;
    api.api_version = connector.api.version;
    api.remote_url = sync.remote_url;
    api.repo = RepoPathFromUrl(sync.remote_url);
    api.token = remote.api_token;
    api.http.ca_file = daemon.ca_file;
    api.http.timeout = daemon.io_timeout;
    spec.api = std::move(api);
  }
  spec.remote = std::move(remote);
  return spec;
}

namespace {
// Hook folders (pass_hooks.cpp) a kill -9 left in the binding's own state directory.
void RemoveStaleHookFolders(const std::string& binding_dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(binding_dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("hook-", 0) == 0 && e.is_directory(ec) && !e.is_symlink(ec)) std::filesystem::remove_all(e.path(), ec);
  }
}
}  // namespace

namespace {
Result<PassOutcome> RunAndRecordPass(const BindingSpec& spec, const PassOptions& options) {
  auto started = std::chrono::steady_clock::now();
  RemoveStaleHookFolders(spec.binding_dir);
  auto state = LoadBindingState(spec.binding_dir);
  if (!state.ok()) return state.status();
  const BindingState loaded = *state;
  MarkPassStep("state load");
  auto repo = pass::OpenRepo(spec.binding_dir, spec.shared_store);
  MarkPassStep("repository open");
  Result<PassOutcome> outcome = Status::Internal("no pass ran");
  state->refused = {};
  // Before any scan: a staging folder a killed pass left would read as the user's files.
  Status unstaged = RemoveStaleStaging(spec.local, spec.binding_dir);
  MarkPassStep("staging check");
  if (!unstaged.ok()) {
    outcome = unstaged;
  } else if (!repo.ok()) {
    outcome = repo.status();
  } else if (auto ignore = IgnoreMatcher::Open(spec.binding_dir, spec.local, spec.ignore_rules, spec.shared_store); !ignore.ok()) {
    outcome = ignore.status();
  } else {
    MarkPassStep("ignore rules");
    for (int attempt = 0; attempt < kMaxPushAttempts; ++attempt) {
      pass::Pass pass(spec, repo->get(), &*state, started, ignore->get());
      PassOptions this_time = options;
      this_time.local_trigger_only = options.local_trigger_only && attempt == 0;
      // After a rejected push the remote moved: only a fetch made now can show how.
      if (attempt > 0) this_time.fetch_not_before = {};
      outcome = pass.Run(this_time);
      if (outcome.ok()) outcome->pushed_after_s = pass.pushed_after_s();
      // A rejected push means the remote moved: fetch and merge again, never force.
      if (outcome.ok() || outcome.status().code() != Status::Code::kConflict) break;
      spdlog::info("sync '{}': push rejected, the remote moved; merging again", spec.name);
    }
  }
  if (outcome.ok()) {
    ++state->passes;
    state->last_error.clear();
    state->last_error_time.clear();
    state->consecutive_failures = 0;
    state->last_success_time = NowIso8601();
  } else {
    state->last_error = outcome.status().message();
    state->last_error_time = NowIso8601();
    ++state->consecutive_failures;
  }
  // A pass that did not reach the remote saved nothing on its way (the journal is saved only
  // around a push), so what is on disk is still `loaded`.
  Status saved = outcome.ok() && !outcome->contacted_remote
                     ? SaveBindingStateAfterPass(spec.binding_dir, loaded, *state)
                     : SaveBindingState(spec.binding_dir, *state);
  MarkPassStep("state save");
  if (!saved.ok() && outcome.ok()) return saved;
  return outcome;
}
}  // namespace

Result<PassOutcome> RunSyncPass(const BindingSpec& spec, const PassOptions& options) {
  PassTimer timer;
  Result<PassOutcome> outcome = RunAndRecordPass(spec, options);
  MarkPassStep("handles closed");
  // After the pass closed its handles and saved state.json (whose commits must be kept), in
  // the same slot: no other pass of the binding runs meanwhile. A failure only delays it.
  auto maintained = MaintainRepository(spec.binding_dir, spec.shared_store);
  if (!maintained.ok()) spdlog::warn("sync '{}': {}", spec.name, maintained.status().message());
  if (!spec.shared_store.empty()) MaintainSharedStore(spec.shared_store);
  MarkPassStep("maintenance check");
  spdlog::debug("sync '{}': pass steps: {}", spec.name, timer.Summary());
  return outcome;
}

}  // namespace gitsyncd
