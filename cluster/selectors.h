// Delegate selectors (docs/fleet.md#delegate-selectors): which connectors this instance runs.
#pragma once

#include "config/config.h"

namespace gitsyncd {

// True when `instance` carries every one of the connector's delegate_selectors (none: every
// instance). A standalone daemon (no `cluster:`) serves every connector.
bool ServesConnector(const ClusterConfig& instance, const ConnectorConfig& connector);

// `config` with only the connectors this instance serves (the engine runs these).
Config ServedConfig(const Config& config);

}  // namespace gitsyncd
