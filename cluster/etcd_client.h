// A small blocking client for etcd 3.4's v3 JSON gateway (HTTP/1.1 on the client port; keys
// and values base64 in JSON): leases, put, range, compare-and-swap transactions and a watch
// that streams events. Plain http:// (loopback only, config checks that) or https:// with a
// CA and an optional client certificate. Every connect, write and read has a deadline; a stop
// flag aborts any wait within 200 ms. One client per thread; on a failure the next request
// goes to the next endpoint.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace gitsyncd {

struct EtcdClientOptions {
  std::vector<std::string> endpoints;   // "http(s)://host:port"
  std::string ca_pem;                   // empty: the system CAs
  std::string cert_pem, key_pem;        // client certificate (both or neither)
  std::chrono::milliseconds timeout{3000};  // per connect, handshake, write and read
  const std::atomic<bool>* stop = nullptr;  // when set and true, waits end with Unavailable
};

struct EtcdKv {
  std::string key, value;
  int64_t create_revision = 0, mod_revision = 0, lease = 0;
};

struct EtcdEvent {
  bool deleted = false;  // a DELETE (or a lease expiry); kv.value is then empty
  EtcdKv kv;
};

class EtcdClient {
 public:
  explicit EtcdClient(EtcdClientOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  Result<int64_t> GrantLease(std::chrono::seconds ttl);
  // Renews the lease once; returns the TTL left, NotFound when the lease has expired.
  Result<int64_t> KeepAlive(int64_t lease);
  Status RevokeLease(int64_t lease);

  Status Put(const std::string& key, const std::string& value, int64_t lease = 0);
  Status Delete(const std::string& key);
  // Keys starting with `prefix`, at most `limit` (0 = etcd's own limit); `revision` gets the
  // store's revision the answer is from (a watch from revision + 1 misses nothing).
  Result<std::vector<EtcdKv>> Range(const std::string& prefix, int64_t limit = 0, int64_t* revision = nullptr);
  // The key as of `revision` (0: now); etcd keeps old revisions until it compacts them. A
  // past revision never changes, so it is read from the member's own copy (a serializable
  // read, no quorum round), or from the quorum when that member has not applied it yet.
  Result<std::optional<EtcdKv>> Get(const std::string& key, int64_t revision = 0);
  // Puts only if the key does not exist, and in the same transaction (one request, one Raft
  // entry) every key of `and_put`, each under its own `lease`; false, writing nothing, when
  // the key existed.
  Result<bool> PutIfAbsent(const std::string& key, const std::string& value, int64_t lease,
                           const std::vector<EtcdKv>& and_put = {});

  // Streams events of keys under `prefix` from revision `from` (0: from now) to `on_event`
  // until it returns false, `idle` passes without a byte (Ok: the caller watches again), the
  // stop flag is set or an error. Returns the revision to watch from next time. Unavailable
  // with "compacted" in the message when `from` is older than etcd keeps.
  Result<int64_t> Watch(const std::string& prefix, int64_t from, std::chrono::milliseconds idle,
                        const std::function<bool(const EtcdEvent&)>& on_event);

  std::string endpoint() const;  // the endpoint the next request goes to
  uint64_t requests() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The end of a prefix range ("/a/" -> "/a0"): etcd's range_end for "every key under it".
std::string PrefixRangeEnd(const std::string& prefix);

}  // namespace gitsyncd
