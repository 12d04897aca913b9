// One reconcile pass of a sync binding: compare the local folder, the last synced commit and
// the remote branch head, then push, pull, merge, or record a conflict. Passes of one binding
// must not run concurrently (the engine serializes them); everything a pass decides is
// derived again from disk and remote, so a pass interrupted at any point (kill -9) is
// finished by the next one without losing an edit.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/provider_api.h"
#include "config/commit_message.h"
#include "config/config.h"
#include "base/status.h"
#include "sync/binding_state.h"
#include "sync/folder_apply.h"
#include "sync/remote_auth.h"

namespace gitsyncd {

struct BindingSpec {
  std::string name;
  std::string branch;
  std::string path;         // folder inside the repository; "" = root
  std::string local;        // absolute local folder
  std::string binding_dir;  // <state_dir>/bindings/<name>
  SyncDirection direction = SyncDirection::kBidirectional;
  ConflictPolicy on_conflict = ConflictPolicy::kKeepBoth;
  CommitAuthor author;
  RemoteCredentials remote;
  // fetch: api — the folder is read through the provider's REST API instead of Git.
  std::optional<ApiTarget> api;
  // Files larger than this are not synced either way; the branch keeps its version of them.
  uint64_t max_file_size = kDefaultMaxFileSize;
  FolderOwnership ownership;  // modes and group of what a pull creates
  // Ignore rules (gitignore lines, config.h SyncBinding::ignore_rules): paths they or the
  // folder's .gitignore files ignore are never pushed, pulled, or deleted for being ignored.
  std::vector<std::string> ignore_rules;
  // Every commit's title: this template expanded (config/commit_message.h).
  std::string commit_message = kDefaultCommitMessage;
  std::string connector;  // the connector's name, for {connector}
  HooksConfig hooks;
  // Checked in-process before validate_remote, on the same private copy of the remote's folder
  // (`tree_dir`): the config source's check-config (docs/fleet.md, "Config from Git"). A
  // refusal refuses the commit whole; the check may name the file and line in `refused`.
  std::function<Status(const std::string& tree_dir, RefusalRecord* refused)> check_tree;
  // The remote's shared object store (sync/shared_store.h), the binding's repository borrowing
  // its objects; "" = the binding fetches into its own repository (fetch: api, tests).
  std::string shared_store;
};

BindingSpec MakeBindingSpec(const DaemonConfig& daemon, const ConnectorConfig& connector, const SyncBinding& sync,
                            RemoteCredentials remote);

struct PassOutcome {
  std::string summary;   // "in sync", "pushed 2 files", "pulled 1 file", "merged ...", "conflict ..."
  bool contacted_remote = false;
  // The folder was left holding exactly the synced commit's folder (nothing kept back, no
  // merge left to finish): the next pass may look only where the watcher saw changes.
  bool folder_in_step = false;
  // Decided from the changed paths alone, without scanning the whole folder.
  bool incremental = false;
  // Seconds from the start of the pass until the remote accepted its push: when the local
  // edit became visible there (0: nothing was pushed). The rest of the pass is bookkeeping.
  double pushed_after_s = 0;
  // What the pass did: "push" (a local edit went to the branch), "pull" (a remote change came
  // into the folder), "merge" (both, or a conflict), "none".
  std::string direction = "none";
};

struct PassOptions {
  // Started by a local file event: when the folder still matches the last synced state, the
  // pass returns without touching the network.
  bool local_trigger_only = false;
  // The paths (files or folders, relative to the folder) the folder watcher saw change since
  // the previous pass began, given only when it saw every change and that pass left the
  // folder in step. The pass then looks only there, and costs what the change costs; cases
  // it cannot decide that way (a merge, a symlink, a file turned folder) fall back to a full
  // scan. Null: the whole folder is scanned.
  const std::set<std::string>* changed_paths = nullptr;
  // When the remote trigger this pass answers came: a fetch of the shared store that started
  // since then answers for this pass too. The zero time point: the pass fetches itself.
  std::chrono::steady_clock::time_point fetch_not_before{};
};

// What a pass would do now, found without doing it (`gitsyncd sync-now NAME --dry-run`).
// Paths are relative to the folder, each "A path", "M path" or "D path".
struct PassPlan {
  std::string remote_head;  // the branch head compared against; "" when the branch is missing
  std::vector<std::string> push;       // local changes a pass would commit and push
  std::vector<std::string> pull;       // remote changes a pass would write into the folder
  std::vector<std::string> conflicts;  // files both sides changed that would not merge cleanly
  std::vector<std::string> notes;      // what else the pass would say (direction, a gone branch)
};

// Plans a pass: scans the folder and fetches the branch (into the binding's own repository, as
// every pass does), then compares. Writes nothing to the folder, pushes nothing, and leaves
// state.json and the scan cache as they were. Must not run beside a pass of the same binding.
Result<PassPlan> PlanSyncPass(const BindingSpec& spec);

// Runs one pass. Errors are also recorded in the binding's state.json (last_error,
// consecutive_failures).
Result<PassOutcome> RunSyncPass(const BindingSpec& spec, const PassOptions& options);
inline Result<PassOutcome> RunSyncPass(const BindingSpec& spec, bool local_trigger_only = false) {
  return RunSyncPass(spec, PassOptions{local_trigger_only, nullptr, {}});
}

}  // namespace gitsyncd
