// Inside one sync pass (see sync_pass.h): the state a pass carries and the steps it is made
// of. Only the pass's own files include this header; each step lives in one file:
//   pass_commit.cpp       building commits, fetching, pushing, applying the remote side
//   pass_merge.cpp        merging both sides and recording conflicts
//   pass_not_synced.cpp   paths left alone: remote symlinks and submodules, files too large
//   pass_recovery.cpp     opening the repository after a crash, finishing a journaled merge
//   pass_incremental.cpp  the pass decided from the changed paths alone
//   pass_hooks.cpp        running the binding's hooks (validate_remote, validate_local, after_pull)
//   sync_pass.cpp         the full pass and the driver (retries, state.json)
#pragma once

#include <git2.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "sync/binding_state.h"
#include "sync/folder_apply.h"
#include "sync/folder_changes.h"
#include "sync/folder_tree.h"
#include "sync/git_handles.h"
#include "sync/ignore_matcher.h"
#include "sync/hook_runner.h"
#include "sync/remote_ops.h"
#include "sync/sync_pass.h"

namespace gitsyncd::pass {

std::optional<git_oid> ParseOid(const std::string& hex);
// The entries a folder can hold (regular files), without symlinks and submodules.
FlatTree Managed(const FlatTree& t);
// "A path" / "M path" / "D path" lines between two trees, sorted by path.
std::vector<std::string> ChangedPaths(const FlatTree& from, const FlatTree& to);
// The changed paths for a commit message, at most a hundred of them.
std::string ListedPaths(const std::vector<std::string>& lines);
std::string Plural(size_t n, const char* what);
std::string HostName();

// The binding's repository, opened after removing what a kill -9 may have left behind.
// With a shared store (BindingSpec::shared_store), the repository borrows its objects.
Result<RepositoryPtr> OpenRepo(const std::string& binding_dir, const std::string& shared_store = "");

class Pass {
 public:
  Pass(const BindingSpec& spec, git_repository* repo, BindingState* state,
       std::chrono::steady_clock::time_point started, IgnoreMatcher* ignore)
      : spec_(spec), repo_(repo), state_(state), started_(started), ignore_(ignore) {}

  double pushed_after_s() const { return pushed_after_s_; }

  Result<PassOutcome> Run(const PassOptions& options);
  Result<PassPlan> Plan();  // pass_plan.cpp

 private:
  // pass_incremental.cpp
  Result<std::optional<PassOutcome>> RunIncremental(const std::set<std::string>& changed, bool local_trigger_only);
  // The incremental pass when only the remote moved: its changes applied path by path.
  Result<std::optional<PassOutcome>> PullIncremental(const git_oid& remote_head, const git_tree* base_folder);
  Result<std::optional<PassOutcome>> RunIncrementalBuffered(const std::set<std::string>& changed,
                                                            bool local_trigger_only);
  Result<bool> AnyTooLarge(const ChangeList& changes);

  // sync_pass.cpp
  Result<PassOutcome> RunFull(bool local_trigger_only);
  Result<PassOutcome> Reconcile(const std::optional<git_oid>& base, const FlatTree& base_tree,
                                const std::optional<git_oid>& remote_head, const FlatTree& scanned,
                                const FlatTree& remote);
  Result<PassOutcome> PullKeepingLocalEdits(const git_oid& remote_head, const FlatTree& base_tree,
                                            const FlatTree& scanned, const FlatTree& local, const FlatTree& remote);
  // CheckYamlFiles on files from the remote: a file that does not parse refuses `remote_head`,
  // recorded in state_->refused when the file is as the remote holds it (`remote`, when given;
  // else every entry of `files` is the remote's).
  Status CheckRemoteYaml(const std::optional<git_oid>& remote_head, const FlatTree& files,
                         const FlatTree& unchanged_from, const FlatTree* remote = nullptr);

  // pass_commit.cpp
  Result<git_oid> Commit(const git_oid& tree, const std::vector<git_oid>& parents, const std::string& message);
  std::string CommitMessage(const std::vector<std::string>& lines, const std::string& note) const;
  Result<git_oid> CommitFolderOn(const std::optional<git_oid>& parent, const FlatTree& files, const std::string& note,
                                 const FlatTree& before);
  Status SaveSynced(const git_oid& commit);
  Result<PassOutcome> PushSyncCommit(const git_oid& commit, size_t changes);
  Result<PassOutcome> PushLocal(const std::optional<git_oid>& remote_head, const FlatTree& local, const FlatTree& remote);
  Result<PassOutcome> PushChanges(const git_oid& parent, const ChangeList& changes);
  // What a local edit is pushed on without a fetch: the newest head the remote's store knows
  // when this binding's folder is the same there as in `base`, else `base` itself.
  git_oid OptimisticParent(const git_oid& base, const git_tree* base_folder);
  // After PushChanges' push of `commit`: its objects into the shared store, for the siblings.
  void ShareCommit(const git_oid& parent, const git_oid& commit);
  Result<PassOutcome> ApplyRemote(const git_oid& remote_head, const FlatTree& scanned, const FlatTree& target,
                                  const std::string& what);
  Result<std::optional<git_oid>> Fetch();
  Result<std::optional<git_oid>> FetchShared();
  std::chrono::steady_clock::time_point fetch_not_before_{};  // PassOptions::fetch_not_before
  Status Push(const std::vector<RefUpdate>& updates);

  // pass_merge.cpp
  Result<PassOutcome> Merge(const std::optional<git_oid>& base, const FlatTree& base_tree,
                            const std::optional<git_oid>& remote_head, const FlatTree& scanned,
                            const FlatTree& local, const FlatTree& remote);
  struct MergedTrees {
    FlatTree merged;
    std::vector<std::string> conflicted;  // sorted, each once
    git_oid local_tree;                   // the local side as a tree (journaled for recovery)
  };
  Result<MergedTrees> MergeTrees(const FlatTree& base_tree, const FlatTree& local, const FlatTree& remote);
  Result<git_oid> CommitMerge(const std::optional<git_oid>& remote_head, const git_oid& local_commit,
                              const FlatTree& remote, const MergedTrees& trees);
  Status PushJournaled(const std::vector<RefUpdate>& updates, const std::optional<git_oid>& new_head,
                       const git_oid& local_tree);

  // pass_not_synced.cpp
  Status FindNotSynced(const FlatTree& scanned, const FlatTree& tree, bool report);
  FlatTree LocalView(const FlatTree& scanned) const;
  // `t`'s folder entries without the paths this pass does not sync: what a change is judged on.
  FlatTree Synced(const FlatTree& t) const;
  Result<ChangeList> WithoutIgnored(ChangeList changes);
  Status ApplyFolder(const FlatTree& scanned, const FlatTree& target, ApplyReport* report);
  Result<bool> TooLarge(const git_oid& blob);

  // pass_hooks.cpp
  Status ValidateRemote(const git_oid& remote_head, const FlatTree& base_tree, const FlatTree& remote);
  Status ValidateLocal(const std::vector<RefUpdate>& updates);
  void AfterPull();
  Status RunTreeHook(const char* name, const HookConfig& hook, const git_oid& commit, const char* direction,
                     const FlatTree& before, const FlatTree& after);
  void Report(const char* name, const std::string& commit, const HookResult& r);

  // pass_recovery.cpp
  Result<bool> RecoverPending(const std::optional<git_oid>& remote_head, const FlatTree& scanned,
                              const FlatTree& remote);

  const BindingSpec& spec_;
  git_repository* repo_;
  BindingState* state_;
  std::chrono::steady_clock::time_point started_;
  double pushed_after_s_ = 0;
  std::vector<git_oid> buffered_;  // objects a buffered incremental pass must store
  // Paths this pass does not sync (see pass_not_synced.cpp): local files over max_file_size
  // found by the scan, every path left alone, and the branch's entries kept for them.
  std::set<std::string> too_large_local_;
  std::set<std::string> not_synced_;
  FlatTree kept_;
  IgnoreMatcher* ignore_;  // never null in a pass RunSyncPass runs
  std::vector<std::string> applied_;  // paths this pass wrote or deleted in the folder
};

}  // namespace gitsyncd::pass
