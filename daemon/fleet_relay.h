// The relay of fetched objects through etcd (docs/fleet.md, "Relayed objects"), between a
// running instance's engine and its fleet. With cluster.relay_key, the instance that receives
// a webhook delivery publishes the push once its own fetch is done, with the pack that fetch
// brought and a MAC; every other instance that runs a binding on that branch checks the MAC
// and the pack, and its passes then take the relayed head instead of fetching. Any doubt on
// either side falls back to today's path: the push without a pack, a fetch of one's own. The
// Git work runs on a thread of the relay's own, so neither the webhook listener nor the
// fleet's watch waits for a fetch.
#pragma once

#include <memory>
#include <string>

#include "cluster/fleet.h"
#include "config/config.h"
#include "config/secret_store.h"
#include "sync/relay_pack.h"
#include "sync/sync_engine.h"

namespace gitsyncd {

class FleetRelay {
 public:
  // nullptr without cluster.relay_key; an error when the key cannot be resolved or is short.
  static Result<std::unique_ptr<FleetRelay>> Start(const Config& config, const SecretStore* store);
  ~FleetRelay();  // Stop()
  // Waits for the running jobs; queued and later work takes the path without a relay.
  void Stop();
  FleetRelay(const FleetRelay&) = delete;
  FleetRelay& operator=(const FleetRelay&) = delete;

  // The receiver: `binding`'s remote pass was triggered at `asked` for `push`. Fetches (the
  // pass takes the same fetch), then publishes `push` to `fleet` with the relayed pack, or
  // without one when there is none to give. Returns at once.
  void Produce(std::shared_ptr<SyncEngine> engine, const std::string& binding,
               std::chrono::steady_clock::time_point asked, FleetPush push, Fleet* fleet);
  // Another instance's push: for each binding `engine` runs on its branch, a relayed pack that
  // passes every check answers the binding's next pass; the others are triggered as usual
  // (TriggerFleetPush). Returns at once.
  void Consume(const Config& config, std::shared_ptr<SyncEngine> engine, FleetPush push);

  struct Impl;

 private:
  explicit FleetRelay(RelayKey key);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gitsyncd
