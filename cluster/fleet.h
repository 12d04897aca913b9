// This instance's part in a fleet (docs/fleet.md): membership under a lease, kept alive and
// re-registered after etcd comes back; pushes published once for the whole fleet and other
// instances' pushes delivered through a watch. Two threads of its own do all etcd I/O, so
// callers never wait on etcd: Publish queues, the destructor stops within the client timeout.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/etcd_client.h"
#include "config/config.h"
#include "config/secret_store.h"
#include "config/status.h"

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
};
std::string PushToJson(const FleetPush& p);
Result<FleetPush> PushFromJson(const std::string& text);

// Key layout under cluster.prefix (one home for it).
std::string MembersPrefix(const ClusterConfig& c);
std::string PushKey(const ClusterConfig& c, const std::string& remote, const std::string& branch);
std::string PushesPrefix(const ClusterConfig& c);
std::string DeliveryKey(const ClusterConfig& c, const FleetPush& p);
std::string OwnerKey(const ClusterConfig& c, const std::string& binding);

// Every live instance, sorted by name (for `gitsyncd cluster status`).
Result<std::vector<FleetMember>> ListMembers(EtcdClient& client, const ClusterConfig& c);

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
    // The set Owned() returns changed (called on a fleet thread; must not block).
    std::function<void()> on_owners_changed;
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

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace gitsyncd
