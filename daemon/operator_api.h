// The operator endpoints, served only on the operator listener (gitsyncd.yaml `operator:`):
// GET / and /ui/status.js (the status page), GET /metrics, GET /api/v1/status,
// GET /api/v1/fleet (in a fleet), POST /api/v1/syncs/NAME/sync, and the import jobs under
// /api/v1/imports.
//
// Every request first passes a gate: its Host must be localhost, an IP literal or a name in
// operator.hosts (DNS rebinding); a browser's cross-site request (Origin of another origin,
// Sec-Fetch-Site other than same-origin/none) is refused; anything but GET/HEAD must be
// application/json; and where operator.admin_token is set, every request carries it
// (Authorization: Bearer TOKEN, or Basic with the token as password, so a browser can ask).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "import/import_jobs.h"
#include "sync/sync_engine.h"
#include "webhooks/delivery_log.h"
#include "webhooks/http_types.h"
#include "webhooks/webhook_service.h"

namespace gitsyncd {

struct OperatorAccess {
  std::string admin_token;         // empty = none configured
  std::vector<std::string> hosts;  // operator.hosts, lowercased
};

class OperatorApi {
 public:
  // Import requests go to `jobs` (null: the import endpoints answer 404); the status lists each
  // connector's recent webhook deliveries from `deliveries` (null: none).
  OperatorApi(OperatorAccess access, ImportJobs* jobs, const DeliveryLog* deliveries = nullptr);

  // What to answer from; until the first call, the data endpoints answer 503. Thread-safe.
  void Use(std::shared_ptr<const Config> config, std::shared_ptr<SyncEngine> engine,
           std::function<WebhookCounters()> webhook_counters);
  // GET /api/v1/fleet answers `fleet_json()` (which must not block: a cached view); unset, 404.
  // Called before the listener starts.
  void SetFleet(std::function<std::string()> fleet_json) { fleet_json_ = std::move(fleet_json); }
  // Runs on the listener's I/O threads; never blocks on a pass.
  HttpResponse Handle(const HttpRequest& request) const;

  struct State;

 private:
  OperatorAccess access_;
  ImportJobs* jobs_;
  const DeliveryLog* deliveries_;
  std::function<std::string()> fleet_json_;
  std::shared_ptr<State> state_;
};

}  // namespace gitsyncd
