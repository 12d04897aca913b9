// Delegate selectors (docs/fleet.md#delegate-selectors): which connectors this instance runs.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace gitsyncd {

// True when `instance` carries every one of the connector's delegate_selectors (none: every
// instance). A standalone daemon (no `cluster:`) serves every connector.
bool ServesConnector(const ClusterConfig& instance, const ConnectorConfig& connector);

// `config` with only the connectors this instance serves. Their exclusive syncs stay in: the
// engine holds each back while another instance owns it (SyncEngine::SetRunElsewhere).
Config ServedConfig(const Config& config);

// The exclusive syncs of the connectors this instance serves: the ownerships it competes for.
std::vector<std::string> ExclusiveCandidates(const Config& config);

}  // namespace gitsyncd
