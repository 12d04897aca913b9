// Between `gitsyncd run` and its fleet (cluster/fleet.h): what the instance reports about its
// bindings, which of them a published push concerns, and the push a webhook trigger makes.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/fleet.h"
#include "config/config.h"
#include "config/secret_store.h"
#include "sync/sync_engine.h"

namespace gitsyncd {

// The bindings `engine` runs, with their last synced commit (from the engine's cached state).
std::vector<FleetBinding> FleetBindings(const Config& config, const SyncEngine& engine);

// The bindings `engine` runs on the push's remote and branch, except those whose last synced
// commit is already the pushed one (no fetch for them) and exclusive ones another instance runs.
std::vector<std::string> BindingsForPush(const Config& config, const SyncEngine& engine, const FleetPush& push);
// Queues a remote pass of each of BindingsForPush.
void TriggerFleetPush(const Config& config, SyncEngine& engine, const FleetPush& push);
// Whether `engine` runs a binding on that remote and branch here (an exclusive one only while
// this instance owns it): the relay reads its pack then.
bool ServesBranch(const Config& config, const SyncEngine& engine, const std::string& remote, const std::string& branch);

// The push a webhook delivery for `binding` means: its remote, branch and new head `commit`
// ("" when the delivery names none); "" remote when the config has no such binding.
FleetPush PushForBinding(const Config& config, const std::string& binding, const std::string& reason,
                         const std::string& commit);

// GET /api/v1/fleet: FleetStatusJson of the cached view, heads from the pushes seen, plus
// "error" (etcd's last error, "" while it answers) and "read_at" (when the members were read).
std::string FleetViewJson(const Fleet& fleet);

// Holds back each exclusive binding of `config` this instance may run but does not own, and
// lets the owned ones run (SyncEngine::SetRunElsewhere); nothing else of the engine changes.
void ApplyOwnership(const Config& config, SyncEngine& engine, const std::set<std::string>& owned);

// Starts the fleet of `config.daemon.cluster` (nullptr without `cluster:`); an error only
// for TLS material that cannot be resolved or loaded: etcd being down is retried, not fatal.
Result<std::unique_ptr<Fleet>> StartFleet(const Config& config, const SecretStore* store, Fleet::Callbacks callbacks);

}  // namespace gitsyncd
