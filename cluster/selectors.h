// Delegate selectors (docs/fleet.md#delegate-selectors): which connectors this instance runs.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "config/config.h"

namespace gitsyncd {

// True when `instance` carries every one of the connector's delegate_selectors (none: every
// instance). A standalone daemon (no `cluster:`) serves every connector.
bool ServesConnector(const ClusterConfig& instance, const ConnectorConfig& connector);

// `config` with only what this instance runs: the connectors it serves, and of their
// exclusive syncs only those in `owned` (docs/fleet.md#exclusive-bindings).
Config ServedConfig(const Config& config, const std::set<std::string>& owned);

// The exclusive syncs of the connectors this instance serves: the ownerships it competes for.
std::vector<std::string> ExclusiveCandidates(const Config& config);

}  // namespace gitsyncd
