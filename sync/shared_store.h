// One object store per remote URL, shared by every binding on that remote (docs/sync.md,
// "Shared object stores"). The store is a bare repository under
// <state_dir>/remotes/<hash of the URL>/ that only ever receives fetches; each binding keeps
// its own small repository (its refs, the commits it makes) that is opened with the store as
// an alternate object folder (sync/binding_repo.h), so objects fetched once are read by every
// binding. The store's config also holds the bindings' ignore settings (sync/ignore_matcher.h).
//
// Fetches are shared: a pass asks for the branch head "as of" the moment its remote trigger
// came (a webhook, a poll, the start), and a fetch of the same URL, branch and connector that
// started at or after that moment answers it; otherwise it fetches, and passes asking
// meanwhile wait for that fetch instead of making their own. The store is never pruned (any
// binding's commits may stand on its objects); its packs are consolidated at the end of a pass
// that follows a write (MaintainSharedStore), each new pack written and fsynced before any
// pack it replaces is removed. Besides fetches, only
// a recorded push writes into it: the few objects of a commit already on the remote.
#pragma once

#include <git2.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sync/remote_auth.h"

namespace gitsyncd {

// <state_dir>/remotes/<40 hex digits>: the store of `url`.
std::string SharedStoreDir(const std::string& state_dir, const std::string& url);

// Makes `repo` (a binding's repository) read the store's objects too, creating the store when
// missing. Nothing is written into the repository: the store is attached to this handle only.
Status BorrowFromSharedStore(git_repository* repo, const std::string& store_dir);

struct SharedFetchRequest {
  std::string store_dir;
  std::string connector;  // fetches are shared only among bindings with the same credentials
  std::string branch;
  // A fetch that started at or after this moment may answer; the zero time point asks for a
  // fetch of its own.
  std::chrono::steady_clock::time_point not_before{};
};

// The branch head (nullopt: the remote has no such branch), its objects in the store.
Result<std::optional<git_oid>> SharedFetch(const SharedFetchRequest& request, const RemoteCredentials& creds);

// The newest head of the branch this process saw for the connector, from a fetch or a push
// recorded below, with all its objects in the store; nullopt when none. It may be stale: a
// push built on it is a compare-and-swap the remote rejects if the branch moved since.
std::optional<git_oid> KnownSharedHead(const SharedFetchRequest& request);

// A push of `head` (a commit on `parent`) was accepted. When `parent` is in the store, copies
// `added` (the objects `head` added to its parent's, read from `from`) into the store under its
// lock and makes `head` the known head, so the other bindings of the remote can build on it
// without a fetch; otherwise nothing is recorded (the store would hold a commit without its
// history). The store then stays within its bounds of packs and loose objects.
Status RecordSharedPush(const SharedFetchRequest& request, git_odb* from, const git_oid& parent, const git_oid& head,
                        const std::vector<git_oid>& added);

// What the instance that received a webhook relays to the others (sync/relay_pack.h).
struct RelaySource {
  std::optional<git_oid> head;      // the branch head (nullopt: the remote has no such branch)
  std::optional<git_oid> base;      // the pack holds what `head` adds to it; nullopt: all of it
  std::optional<std::string> pack;  // nullopt: larger than allowed, not relayed
};

// Fetches as SharedFetch does (or takes the fetch that answers `request`) and builds the pack
// that takes a store from the head known before that fetch (or, when the fetch found nothing
// new, from the head's first parent) to the head, if it is at most `max_bytes`.
Result<RelaySource> FetchForRelay(const SharedFetchRequest& request, const RemoteCredentials& creds, size_t max_bytes);

// A relayed head another instance fetched: when a head of the branch is known here, the store
// holds `base` (or the pack needs none) and `commit` then descends from (or is) the known head,
// indexes `pack` (IndexRelayPack), makes `commit` the known head and answers fetches asked for
// up to `request.not_before` with it, as a fetch started then would. Any doubt: an error, and
// nothing but complete objects was added (the caller fetches as usual).
Status AcceptRelayedHead(const SharedFetchRequest& request, const std::optional<git_oid>& base, const git_oid& commit,
                         std::string_view pack);

// Keeps the store within kMaxPacks packs and kMaxLoose loose objects (repo_maintenance.h)
// when anything was written into it since the last call; otherwise returns at once. Called at
// the end of every pass (RunSyncPass), after the folder was written, so a consolidation never
// delays a fetch's or a relayed pack's way into a folder. Under the store's lock, and not at
// all while a fetch holds it (the pass that fetch answers calls this again); a failure is
// logged and retried after the next write.
void MaintainSharedStore(const std::string& store_dir);

}  // namespace gitsyncd
