// Objects relayed through etcd (docs/fleet.md, "Relayed objects"): the instance that received a
// webhook delivery fetched the branch from `base` to `commit`; it sends the other instances a
// pack of exactly the objects that took it there, authenticated with cluster.relay_key, so they
// need no fetch of their own. Here: the pack (built from and indexed into a shared object store)
// and its MAC; sync/shared_store.h decides when a relayed head may answer a fetch.
#pragma once

#include <git2.h>

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace gitsyncd {

// A relayed pack larger than this is not sent (the others fetch); etcd takes requests of up
// to 1.5 MiB, and the value travels base64 in JSON.
inline constexpr size_t kMaxRelayPackBytes = 512 * 1024;
inline constexpr size_t kMinRelayKeyBytes = 32;

// What one relay record vouches for (object ids as 40 hex digits; base "" = none).
struct RelayRecord {
  std::string remote, branch, base, commit;
  std::string pack;  // the pack's bytes
};

// The key the MAC is made with, derived from the secret cluster.relay_key (never the secret
// itself; wiped on destruction).
class RelayKey {
 public:
  // `where` names the setting in errors ("gitsyncd.yaml:12:14: cluster.relay_key").
  static Result<RelayKey> FromSecret(std::string_view secret, const std::string& where);
  ~RelayKey();
  RelayKey(const RelayKey&) = default;
  RelayKey& operator=(const RelayKey&) = default;

  // HMAC-SHA-512-256 (libsodium crypto_auth) over every field of `r`, each length-prefixed,
  // the pack by its SHA-256; 64 hex digits.
  std::string Mac(const RelayRecord& r) const;
  // In constant time.
  bool Verify(const RelayRecord& r, std::string_view mac_hex) const;

 private:
  RelayKey() = default;
  std::array<unsigned char, 32> key_{};
};

// A pack of every object reachable from `commit` and not from `base` (null: everything),
// without deltas against objects outside it; nullopt when it would exceed `max_bytes`.
Result<std::optional<std::string>> BuildRelayPack(git_repository* repo, const git_oid* base, const git_oid& commit,
                                                  size_t max_bytes);

// Indexes `pack` into the store at `store_dir`: each object's id is computed from its content,
// and the pack becomes visible only when it is whole (no delta against an object outside it)
// and every object it names (a commit's tree and parents, a tree's entries but submodules) is
// in the pack or already in the store, so the store never holds a commit without its history.
// The caller holds the store's lock.
Status IndexRelayPack(const std::string& store_dir, std::string_view pack);

}  // namespace gitsyncd
