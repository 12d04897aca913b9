// GET /metrics: the Prometheus text exposition format (version 0.0.4) of what the engine and
// the webhook listener count.
#pragma once

#include <string>
#include <vector>

#include "sync/sync_engine.h"
#include "webhooks/webhook_service.h"

namespace gitsyncd {

std::string RenderMetrics(const std::vector<EngineBindingStatus>& bindings, size_t queue_depth,
                          const WebhookCounters& webhooks);

}  // namespace gitsyncd
