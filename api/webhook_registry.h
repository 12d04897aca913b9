// Keeps exactly one gitsyncd webhook in a repository: the hooks whose URL starts with the
// connector's prefix (<public_url>/webhooks/<connector-id>/) are ours; one that already
// delivers as wanted is left alone, a drifted one is corrected, duplicates are removed.
// Hooks of anything else are never touched.
#pragma once

#include <string>
#include <vector>

#include "api/repo_hooks.h"

namespace gitsyncd {

struct HookChanges {
  int created = 0, updated = 0, removed = 0, kept = 0;
  std::vector<std::string> actions;  // one line each, for the CLI and the log ("update 12: events: push, issues")
};

// Makes `hook` the one hook under `url_prefix`. `secret_changed`: the secret differs from the
// one last registered (providers never show it back), so a matching hook is updated too.
// `dry_run`: only says what it would do. `create`: false = only correct hooks that exist.
Result<HookChanges> EnsureHook(RepoHooks& api, const WantedHook& hook, const std::string& url_prefix,
                               bool secret_changed, bool dry_run, bool create = true);

// Removes every hook under `url_prefix`.
Result<HookChanges> RemoveHooks(RepoHooks& api, const std::string& url_prefix, bool dry_run);

}  // namespace gitsyncd
