// The running daemon's side of gitsyncd.yaml `config_source:` (docs/fleet.md, "Config from
// Git"): a commit of the config repository is checked as `gitsyncd check-config` checks the
// directory, before anything of it is written into connectors.d; once written, the daemon
// reloads as on SIGHUP.
#pragma once

#include <string>

#include "sync/sync_engine.h"

namespace gitsyncd {

// The check_tree of the config source's binding: LoadConfig of `config_dir` with the commit's
// files (`tree_dir`) as connectors.d. A refusal lists the problems, each as file:line:column
// under connectors.d, and names the first one's file and line in `refused`.
decltype(BindingSpec::check_tree) ConfigSourceCheck(const std::string& config_dir);

// True when `e` is a pass of the config source that wrote a new commit into connectors.d.
bool ConfigSourceApplied(const PassEvent& e);

// Asks the main loop for a reload, as `systemctl reload` (SIGHUP) does.
void RequestReload();

}  // namespace gitsyncd
