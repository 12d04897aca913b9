// Keeps a binding's repository small (docs/sync.md, "Repository maintenance"): every fetch
// adds a pack and every local commit adds loose objects, so after a pass that left more than
// kMaxPacks packs or kMaxLoose loose objects, the objects still needed are packed and the rest
// are removed. Needed means reachable from a ref, from a commit or tree the binding's
// state.json names (last synced, a journaled merge, each conflict's commits) or from a commit
// api-head.json names. Crash-safe: the new pack and its index are complete and fsynced before
// any old pack or loose object is removed, so a kill -9 at any moment leaves a valid
// repository. Objects in the shared store the repository borrows from (sync/binding_repo.h)
// are not copied into it. Must run where no pass of the binding runs (the end of RunSyncPass).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "sync/git_handles.h"

namespace gitsyncd {

inline constexpr size_t kMaxPacks = 6;
inline constexpr size_t kMaxLoose = 100;

// What a repository's object store holds on disk.
struct ObjectStoreCounts {
  size_t packs = 0;
  size_t loose = 0;
  uint64_t bytes = 0;  // the apparent size of every pack, index and loose object
};
ObjectStoreCounts CountObjectStore(const std::string& repo_dir);

struct MaintenanceReport {
  bool ran = false;
  bool full = false;           // everything rewritten into one pack (else: all but the largest pack)
  size_t packs_before = 0, loose_before = 0;
  size_t reachable = 0;        // objects kept
  size_t packed = 0;           // objects written into the new pack
  uint64_t bytes_before = 0, bytes_after = 0;
};

// Runs the maintenance of <binding_dir>/repo when the limits above are crossed; `force` runs
// it now, rewriting everything into one pack. `shared_store`: the store the repository
// borrows from (BindingSpec::shared_store; empty: none). Any doubt (an object missing from the
// walk, a failed write) leaves every old object in place and returns the error.
Result<MaintenanceReport> MaintainRepository(const std::string& binding_dir, const std::string& shared_store,
                                             bool force = false);

// The same bounds for a shared object store (sync/shared_store.h), which only fetches write
// and which is never pruned (any binding's commits may stand on its objects): past them, every
// pack but the largest is rewritten into one, all of their objects kept, or every pack once
// the others add up to half the largest. Must run where no fetch writes into the store.
// `max_packs` and `max_loose`: other bounds (a looser backstop).
Result<MaintenanceReport> ConsolidateSharedStore(const std::string& store_dir, size_t max_packs = kMaxPacks,
                                                 size_t max_loose = kMaxLoose);

// An object database holding just the given packs (their .idx paths) and, whole, the given
// object folders.
Result<OdbPtr> OpenPacks(const std::vector<std::string>& indexes, const std::vector<std::string>& folders = {});

}  // namespace gitsyncd
