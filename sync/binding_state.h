// The on-disk state of one sync binding: <state_dir>/bindings/<name>/state.json, written
// atomically. It is the truth; memory only caches it. Readable without a running daemon
// (`gitsyncd status` reads it directly).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace gitsyncd {

struct ConflictRecord {
  std::string branch;              // gitsyncd/conflicts/<sync>/<timestamp>-<commit>, pushed to the remote
  std::string time;                // ISO 8601 UTC
  std::string policy;              // keep-both, prefer-remote, prefer-local
  std::vector<std::string> files;  // paths that conflicted
  bool resolved = false;           // prefer-* resolve automatically; keep-both waits for a person
  std::string commit;              // hex: the losing side, the head of `branch` when it was pushed
  // The two sides (hex): the local side is the folder's state as a commit on the last synced
  // one, the remote side the branch head the pass merged with. Empty in records written
  // before format 2.
  std::string local_commit;
  std::string remote_commit;
  std::string resolved_time;  // when a person marked it resolved (`gitsyncd conflicts resolve`)
  bool operator==(const ConflictRecord&) const = default;
};

// The last run of one hook (docs/sync.md, "Hooks"); the output is capped.
struct HookReport {
  std::string hook;    // validate_remote, validate_local, after_pull
  std::string time;    // ISO 8601 UTC
  std::string commit;  // the commit it ran for
  bool ok = false;
  std::string result;  // "hook validate_remote exited with 1: <output>"
  bool operator==(const HookReport&) const = default;
};

// A remote commit a pass refused to apply, and why (for the commit status posted on it).
struct RefusalRecord {
  std::string commit;  // hex; fetch: api: the snapshot commit that stands for the remote one
  std::string kind;    // "yaml": a file of it does not parse; "hook": validate_remote refused it;
                       // "check": the binding's check_tree refused it (the config source's check-config)
  std::string file;    // yaml: the file, relative to the folder; check: the file the check named
  int line = 0;        // yaml, check: 1-based; 0 when no line was named
  bool operator==(const RefusalRecord&) const = default;
};

struct BindingState {
  std::string last_synced_commit;  // hex; the commit whose `path` the folder matched at the last sync
  std::string last_success_time;
  std::string last_error;
  std::string last_error_time;
  uint32_t consecutive_failures = 0;
  uint32_t pending_local_changes = 0;  // files changed locally and not yet pushed
  uint64_t passes = 0;  // completed passes, except those not saved (SaveBindingStateAfterPass)
  std::vector<std::string> warnings;   // skipped files, kept local edits, invalid YAML
  std::vector<ConflictRecord> conflicts;
  // Journal: a merge pushed but maybe not yet applied to the folder. Set before the push,
  // cleared after the folder and last_synced_commit are updated.
  std::string pending_commit;
  std::string pending_local_tree;
  // The branch was deleted on the remote after it was synced: nothing is pushed (a local edit
  // does not re-create it) until the branch exists again.
  bool branch_gone = false;
  // `gitsyncd pause`: no pass runs until `gitsyncd resume` (kept across restarts).
  bool paused = false;
  std::string paused_time;
  std::vector<HookReport> hooks;  // the last run of each hook
  RefusalRecord refused;          // by the last pass; empty commit when it refused none
  bool operator==(const BindingState&) const = default;
};

// Missing file = fresh state. A corrupt file is an error naming it.
Result<BindingState> LoadBindingState(const std::string& binding_dir);
Status SaveBindingState(const std::string& binding_dir, const BindingState& state);

// After a successful pass that saved nothing on its way: saves `after` unless it differs from
// `before` (as loaded when the pass began, still on disk) only in the pass count and the last
// success time, and that time on disk is under a minute old. Such a pass (one that our own writes to the folder started, typically)
// would rewrite state.json for nothing but counters: a file created and two fsyncs, per
// binding, on a first sync. Nothing a pass or a reader needs is lost by skipping it.
Status SaveBindingStateAfterPass(const std::string& binding_dir, const BindingState& before, const BindingState& after);

// Replaces <binding_dir>/<name> with `data` atomically and durably (temp file, fsync,
// rename, fsync of the folder): a crash leaves the old or the new content.
Status WriteStateFile(const std::string& binding_dir, const std::string& name, const std::string& data);

std::string NowIso8601();
// Seconds since the epoch of a time NowIso8601() wrote; nullopt for anything else.
std::optional<int64_t> ParseIso8601(const std::string& text);

}  // namespace gitsyncd
