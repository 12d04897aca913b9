// One binding's status as JSON: `gitsyncd status --json` and GET /api/v1/status print the
// same object; the API adds what only the running daemon knows.
#pragma once

#include <boost/json.hpp>

#include <vector>

#include "config/config.h"
#include "sync/binding_state.h"
#include "sync/sync_engine.h"
#include "webhooks/delivery_log.h"

namespace gitsyncd {

boost::json::object BindingStatusJson(const ConnectorConfig& c, const SyncBinding& s, const Result<BindingState>& st);

// Deliveries a status lists per binding: its connector's newest ones.
inline constexpr size_t kStatusDeliveries = 10;
// "deliveries": the connector's recent webhook deliveries, newest first.
void AddDeliveriesJson(boost::json::object& o, const std::vector<DeliveryRecord>& newest_first);
// "passes": the binding's last passes (engine memory), newest first.
void AddPassesJson(boost::json::object& o, const ConnectorConfig& c, const SyncBinding& s,
                   const std::vector<PassRecord>& oldest_first);

}  // namespace gitsyncd
