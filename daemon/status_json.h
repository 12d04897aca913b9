// One binding's status as JSON: `gitsyncd status --json` and GET /api/v1/status print the
// same object.
#pragma once

#include <boost/json.hpp>

#include "config/config.h"
#include "sync/binding_state.h"

namespace gitsyncd {

boost::json::object BindingStatusJson(const ConnectorConfig& c, const SyncBinding& s, const Result<BindingState>& st);

}  // namespace gitsyncd
