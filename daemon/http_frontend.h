// The daemon's HTTP side, two listeners that never share an endpoint: the public one (webhook
// deliveries and /healthz; `listen:`) and the operator one (status page, /metrics, /api/v1/...;
// on by default, `operator:`, see operator_api.h). They live as long as the daemon; each config (and each
// change of webhook tokens) is swapped in with Use().
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "config/secret_store.h"
#include "base/status.h"
#include "import/import_jobs.h"
#include "sync/sync_engine.h"
#include "webhooks/webhook_service.h"
#include "webhooks/webhook_verifier.h"

namespace gitsyncd {

// True when the config asks for either listener: a `listen` section or a webhook-enabled
// connector (public), the operator listener (on unless `operator.listen: off` without a socket).
bool WantsListener(const Config& config);

class HttpFrontend {
 public:
  // Webhook deliveries are recorded under the state directory; import requests go to `jobs`.
  HttpFrontend(const DaemonConfig& daemon, ImportJobs* jobs);
  ~HttpFrontend();  // Stop()
  HttpFrontend(const HttpFrontend&) = delete;
  HttpFrontend& operator=(const HttpFrontend&) = delete;

  // Binds the listeners the config asks for, resolving operator.admin_token (a secret
  // reference); errors name the setting.
  Status Start(const Config& config, const SecretStore* store);
  // Serves this config, its engine and its resolved webhook secrets from now on; re-reads the
  // webhook tokens.
  void Use(const Config& config, std::shared_ptr<SyncEngine> engine,
           const std::map<std::string, VerifyPolicy>& webhook_policies);
  // What a verified delivery does for each binding it concerns (from the next Use() on);
  // unset: the engine's TriggerRemote. The fleet sets it to also tell the other instances.
  using Trigger = WebhookService::Trigger;
  void SetTrigger(Trigger trigger);
  // GET /api/v1/fleet on the operator listener (see OperatorApi::SetFleet); before Start().
  void SetFleetView(std::function<std::string()> fleet_json);
  // /healthz answers 200 once ready, 503 before.
  void SetReady(bool ready);
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace gitsyncd
