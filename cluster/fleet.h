// This instance's part in a fleet (docs/fleet.md): membership under a lease, kept alive and
// re-registered after etcd comes back; pushes published once for the whole fleet and other
// instances' pushes delivered through a watch. Two threads of its own do all etcd I/O, so
// callers never wait on etcd: Publish queues, the destructor stops within the client timeout.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/etcd_client.h"
#include "config/config.h"
#include "config/secret_store.h"
#include "base/status.h"

namespace gitsyncd {

// What an instance reports about one binding it runs.
struct FleetBinding {
  std::string name, connector, remote, branch, path;
  std::string commit;     // last synced commit (hex), "" before the first pass
  std::string synced_at;  // ISO 8601 UTC of the last successful pass
  std::string error;      // the last pass's error, if it failed
};

// The value of <prefix>members/<name>.
struct FleetMember {
  std::string name;
  std::vector<std::string> selectors;
  std::string started, updated;  // ISO 8601 UTC
  std::vector<FleetBinding> bindings;
};
std::string MemberToJson(const FleetMember& m);
Result<FleetMember> MemberFromJson(const std::string& text);

// A push to a remote branch, the value of <prefix>pushes/<hash of remote and branch>.
struct FleetPush {
  std::string remote, branch;
  std::string commit;  // the new head when the delivery said, else ""
  std::string from;    // the instance that received the delivery
  std::string reason;  // "webhook github <delivery id>"
  std::string time;
  // The provider's delivery id: a push of the same delivery, remote and branch that any
  // instance already published within the hour (a redelivery reaching another instance
  // behind the load balancer) is not published again. "" = always published.
  std::string delivery;
  // Relayed objects (docs/fleet.md, "Relayed objects"), only with cluster.relay_key: the pack
  // that takes the branch from `relay_base` ("" = nothing) to `commit`, and its MAC (hex).
  // A pack of up to 4 KiB is in the push's JSON (base64, `relay.pack`), so the watch event
  // brings it; a larger one is the value of <prefix>packs/<the push's hash>, put in the same
  // transaction, and read back at the push's revision for on_push.
  std::string relay_base, relay_mac;
  std::string relay_pack;  // the pack's bytes ("" when the record has none or it was not read)
  int64_t revision = 0;    // the etcd revision the push was heard at (not in the JSON)
};
std::string PushToJson(const FleetPush& p);
Result<FleetPush> PushFromJson(const std::string& text);

// Key layout under cluster.prefix (one home for it).
std::string MembersPrefix(const ClusterConfig& c);
std::string PushKey(const ClusterConfig& c, const std::string& remote, const std::string& branch);
std::string PushesPrefix(const ClusterConfig& c);
std::string PackKey(const ClusterConfig& c, const std::string& remote, const std::string& branch);
std::string DeliveryKey(const ClusterConfig& c, const FleetPush& p);
std::string OwnerKey(const ClusterConfig& c, const std::string& binding);

// Every live instance, sorted by name (for `gitsyncd cluster status`).
Result<std::vector<FleetMember>> ListMembers(EtcdClient& client, const ClusterConfig& c);

// Branch heads by remote + "\n" + branch ("" or missing: unknown).
using BranchHeads = std::map<std::string, std::string>;
// Where a binding stands against its branch head: "at head", "behind head <12 hex>", "not
// synced yet (head <12 hex>)", "head unknown"; "" when the heads were not asked for.
std::string BehindHead(const FleetBinding& b, const BranchHeads& heads, bool asked);
// The fleet as `cluster status --json` and GET /api/v1/fleet show it (one shape):
// {"instances": [{name, selectors, started, updated, bindings: [{name, connector, branch,
// commit, synced_at, head, state, error}]}]} plus the string members of `extra`.
std::string FleetStatusJson(const std::vector<FleetMember>& members, const BranchHeads& heads, bool asked,
                            const std::map<std::string, std::string>& extra = {});

// What a running instance knows of its fleet, for the status page.
struct FleetView {
  std::vector<FleetMember> members;  // as last read, sorted by name
  BranchHeads heads;                 // the newest commit each published push named
  std::string read_at;               // when `members` was read (ISO 8601 UTC); "" never
  std::string error;                 // Fleet::last_error()
};

// The endpoints and resolved TLS material of `cluster:`.
Result<EtcdClientOptions> ClusterClientOptions(const ClusterConfig& c, const SecretStore* store,
                                               const std::string& config_dir);

class Fleet {
 public:
  struct Callbacks {
    std::function<std::vector<FleetBinding>()> bindings;  // called on a fleet thread, often
    std::function<void(const FleetPush&)> on_push;        // another instance's published push
    // Exclusive bindings this instance may run; it competes for each one's ownership.
    std::function<std::vector<std::string>()> candidates;
    // The set Owned() returns changed to `owned` (called on a fleet thread; must not block).
    std::function<void(const std::set<std::string>& owned)> on_owners_changed;
    // Whether this instance runs a binding on that remote and branch: only then is a relayed
    // pack read from etcd for on_push (unset: never).
    std::function<bool(const std::string& remote, const std::string& branch)> serves;
  };
  // Starts the threads; etcd being down is not an error here (it is logged and retried).
  // `instance`: this instance's name (gitsyncd.yaml `instance`).
  Fleet(ClusterConfig config, std::string instance, EtcdClientOptions client, Callbacks callbacks);
  ~Fleet();  // revokes the membership lease (bounded by the client timeout) and stops
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Queues a push for the whole fleet; returns at once.
  void Publish(FleetPush push);
  bool registered() const;        // the membership key is live in etcd
  // The exclusive bindings this instance owns now (docs/fleet.md#exclusive-bindings).
  std::set<std::string> Owned() const;
  std::string last_error() const;  // "" while etcd answers
  // Returns at once with what is cached. Asking for it is what keeps it fresh: while views are
  // asked for (the status page is open), the member list is read from etcd every 2 s; when
  // nobody looks, no instance pays for reading the whole fleet.
  FleetView View() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace gitsyncd
