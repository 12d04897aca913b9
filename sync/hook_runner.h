// Runs a hook (config.h HookConfig; docs/sync.md, "Hooks"): its argv, no shell, in a process
// group of its own, with a small fixed environment, stdin from /dev/null, and stdout and
// stderr captured (capped). At its timeout, or when the calling worker's pass is cancelled
// (the daemon stops or reloads: api/io_cancel.h), the whole group is killed; so is anything
// the hook left running when it exits.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "config/config.h"

namespace gitsyncd {

// What a hook keeps of its output: the first bytes of stdout and stderr together.
inline constexpr size_t kHookOutputCap = 4096;

struct HookCall {
  std::string hook;       // "validate_remote", "validate_local", "after_pull"
  std::string binding;    // GITSYNCD_BINDING
  std::string commit;     // GITSYNCD_COMMIT (hex)
  std::string direction;  // GITSYNCD_DIRECTION: "pull" or "push"
  std::vector<std::string> changed_files;  // written one per line to the GITSYNCD_CHANGED_FILES file
  std::string tree;       // GITSYNCD_TREE (empty: not set); also the working directory
  std::string work_dir;   // the working directory when `tree` is empty
  std::string temp_parent;  // where the private folder of the changed-files list is made
};

struct HookResult {
  bool ran = false;        // false: it could not be started (`error` says why)
  int exit_code = -1;      // -1 when killed by a signal
  bool timed_out = false;  // killed at its timeout
  bool cancelled = false;  // killed because the daemon stops
  std::string output;      // capped at kHookOutputCap
  std::string error;
  bool ok() const { return ran && exit_code == 0 && !timed_out && !cancelled; }
  // "hook validate_remote exited with 1: <output>", "... was killed after its 5s timeout", ...
  std::string Describe(const std::string& hook) const;
};

HookResult RunHook(const HookConfig& config, const HookCall& call);

}  // namespace gitsyncd
