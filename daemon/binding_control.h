// Commands about bindings sent to the running daemon (status, sync-now, pause, resume,
// conflicts resolve). Those that change a binding's state go through its control socket, so
// the daemon stays the only writer of its state; when no daemon runs, the CLI makes the change
// itself under the instance lock.
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <functional>
#include <string>

#include "config/config.h"
#include "base/status.h"
#include "sync/sync_engine.h"

namespace gitsyncd {

// How long the daemon waits for a running pass of the binding before a state change is made
// (pause, resume, resolve); the pass is never cut short.
inline constexpr std::chrono::seconds kStateChangeWait{60};

// The binding named `name` and its connector, or null.
const SyncBinding* FindSync(const Config& config, const std::string& name, const ConnectorConfig** connector = nullptr);

// The daemon's side of the control socket for bindings: answers "status", "sync-now NAME",
// "sync-now-dry-run NAME", "pause NAME", "resume NAME" and "conflicts-resolve NAME BRANCH
// [--delete-branch]" with a JSON line; empty when `request` is none of these.
std::string HandleBindingControl(SyncEngine& engine, const std::string& request);

// The CLI's side: sends `request`; when no daemon runs, takes the instance lock and calls
// `offline` instead (null `offline`: the daemon is required). Returns the daemon's (or
// offline's) answer object, whose "ok" is true; an "ok": false answer becomes its error.
Result<boost::json::object> AskDaemonOrOffline(const DaemonConfig& daemon, const std::string& request,
                                               const std::function<Result<boost::json::object>()>& offline);

// For `offline` above: applies `edit` to the binding's state.json (spec.binding_dir)
// directly. Run as root, the files written keep the state directory's owner, so the daemon's
// user can still write them.
Status EditStateOffline(const DaemonConfig& daemon, const BindingSpec& spec, const SyncEngine::StateEdit& edit);

}  // namespace gitsyncd
