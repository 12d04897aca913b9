#include "sync/shared_store.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "sync/git_handles.h"
#include "sync/object_buffer.h"
#include "sync/relay_pack.h"
#include "sync/remote_ops.h"
#include "sync/repo_maintenance.h"

namespace gitsyncd {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// One per store: its fetches run one at a time, and remember when each branch was last
// fetched (per connector) and what it answered.
struct Store {
  std::mutex mu;
  std::mutex init_mu;  // creating the repository: two passes must not both init it
  bool opened = false;  // under init_mu: the repository exists (it is never removed)
  struct Last {
    Clock::time_point started;
    std::optional<git_oid> head;
    std::optional<git_oid> before;  // the known head before that fetch
  };
  std::map<std::pair<std::string, std::string>, Last> last;  // (connector, branch)
  std::map<std::pair<std::string, std::string>, git_oid> known;  // KnownSharedHead
  // Something was written since the last MaintainSharedStore (true at first: the previous
  // run of the daemon may have left the store past its bounds).
  bool written = true;
};

std::mutex g_stores_mu;
std::map<std::string, std::shared_ptr<Store>> g_stores;

std::shared_ptr<Store> StoreOf(const std::string& dir) {
  std::lock_guard<std::mutex> lock(g_stores_mu);
  auto& s = g_stores[dir];
  if (!s) s = std::make_shared<Store>();
  return s;
}

Result<RepositoryPtr> OpenStore(const std::string& dir) {
  EnsureLibgit2();
  std::shared_ptr<Store> store = StoreOf(dir);
  std::lock_guard<std::mutex> lock(store->init_mu);
  if (!store->opened) {
    // A kill -9 while a fetch recorded its head (refs/remotes/...) or the first matcher
    // wrote the ignore settings into the config (sync/ignore_matcher.cpp) leaves a lock that
    // would fail every later write of that file. Nothing in this process wrote the store
    // yet, and only this daemon writes its state dir: a lock here now is stale.
    RemoveStaleLocks(dir);
  }
  git_repository* raw = nullptr;
  int rc = git_repository_open_bare(&raw, dir.c_str());
  if (rc == GIT_ENOTFOUND) {
    std::error_code ec;
    fs::create_directories(fs::path(dir).parent_path(), ec);
    rc = git_repository_init(&raw, dir.c_str(), 1);
  }
  if (rc < 0) return GitError(rc, "cannot open the shared object store " + dir);
  store->opened = true;
  return RepositoryPtr(raw);
}

// Creates the store when missing; opens it only the first time (a pass per binding asks).
Status EnsureStore(const std::string& dir) {
  {
    std::shared_ptr<Store> store = StoreOf(dir);
    std::lock_guard<std::mutex> lock(store->init_mu);
    if (store->opened) return Status::Ok();
  }
  auto opened = OpenStore(dir);
  return opened.ok() ? Status::Ok() : opened.status();
}

// Under the store's lock: no fetch writes a pack meanwhile. A failure only delays it.
void Consolidate(const std::string& store_dir, size_t max_packs = kMaxPacks, size_t max_loose = kMaxLoose) {
  auto maintained = ConsolidateSharedStore(store_dir, max_packs, max_loose);
  if (!maintained.ok()) spdlog::warn("shared object store {}: {}", store_dir, maintained.status().message());
}

// After a write into the store, under its lock. The consolidation itself waits for the end of
// a pass (MaintainSharedStore), so it never stands between a fetch or a relayed pack and the
// folder; only a store far past its bounds (writes that no pass followed, e.g. relays to a
// paused binding) is consolidated here.
void Written(Store& store, const std::string& store_dir) {
  store.written = true;
  Consolidate(store_dir, 2 * kMaxPacks, 2 * kMaxLoose);
}

}  // namespace

std::string SharedStoreDir(const std::string& state_dir, const std::string& url) {
  git_oid id;
  git_odb_hash(&id, url.data(), url.size(), GIT_OBJECT_BLOB);
  return state_dir + "/remotes/" + OidHex(id);
}

Status BorrowFromSharedStore(git_repository* repo, const std::string& store_dir) {
  Status store = EnsureStore(store_dir);
  if (!store.ok()) return store;
  std::string objects = fs::absolute(store_dir + "/objects").string();
  git_odb* raw = nullptr;
  int rc = git_repository_odb(&raw, repo);
  if (rc < 0) return GitError(rc, "cannot open the object database of " + std::string(git_repository_path(repo)));
  OdbPtr odb(raw);
  if ((rc = git_odb_add_disk_alternate(odb.get(), objects.c_str())) < 0) {
    return GitError(rc, "cannot read the shared object store " + store_dir);
  }
  return Status::Ok();
}

namespace {

// SharedFetch under the store's lock.
Result<Store::Last> FetchLocked(Store& store, const SharedFetchRequest& request, const RemoteCredentials& creds) {
  auto key = std::make_pair(request.connector, request.branch);
  auto last = store.last.find(key);
  if (request.not_before != Clock::time_point{} && last != store.last.end() &&
      last->second.started >= request.not_before) {
    return last->second;
  }
  auto repo = OpenStore(request.store_dir);
  if (!repo.ok()) return repo.status();
  auto started = Clock::now();
  auto head = FetchBranch(repo->get(), creds, request.branch);
  if (!head.ok()) return head.status();
  std::optional<git_oid> before;
  if (auto known = store.known.find(key); known != store.known.end()) before = known->second;
  Store::Last fetched{started, *head, before};
  store.last[key] = fetched;
  if (*head) store.known[key] = **head;
  else store.known.erase(key);
  repo->reset();
  Written(store, request.store_dir);
  return fetched;
}

}  // namespace

Result<std::optional<git_oid>> SharedFetch(const SharedFetchRequest& request, const RemoteCredentials& creds) {
  std::shared_ptr<Store> store = StoreOf(request.store_dir);
  std::lock_guard<std::mutex> lock(store->mu);
  auto fetched = FetchLocked(*store, request, creds);
  if (!fetched.ok()) return fetched.status();
  return fetched->head;
}

}  // namespace gitsyncd

namespace gitsyncd {

std::optional<git_oid> KnownSharedHead(const SharedFetchRequest& request) {
  std::shared_ptr<Store> store = StoreOf(request.store_dir);
  std::lock_guard<std::mutex> lock(store->mu);
  auto known = store->known.find({request.connector, request.branch});
  if (known == store->known.end()) return std::nullopt;
  return known->second;
}

Status RecordSharedPush(const SharedFetchRequest& request, git_odb* from, const git_oid& parent, const git_oid& head,
                        const std::vector<git_oid>& added) {
  std::shared_ptr<Store> store = StoreOf(request.store_dir);
  std::lock_guard<std::mutex> lock(store->mu);  // no consolidation removes what is written meanwhile
  auto repo = OpenStore(request.store_dir);
  if (!repo.ok()) return repo.status();
  git_odb* raw = nullptr;
  int rc = git_repository_odb(&raw, repo->get());
  if (rc < 0) return GitError(rc, "cannot open the shared object store " + request.store_dir);
  OdbPtr odb(raw);
  if (git_odb_exists(raw, &parent) != 1) return Status::Ok();
  Status copied = CopyObjects(from, raw, added);
  if (!copied.ok()) return copied.WithContext("shared object store " + request.store_dir);
  store->known[{request.connector, request.branch}] = head;
  odb.reset();
  repo->reset();
  Written(*store, request.store_dir);
  return Status::Ok();
}

}  // namespace gitsyncd

namespace gitsyncd {
namespace {

// What a relayed pack is built against: the head known before the fetch, or (the fetch found
// nothing new) the head's first parent; nullopt: the whole history.
std::optional<git_oid> RelayBase(git_repository* repo, const Store::Last& fetched) {
  if (fetched.before && !git_oid_equal(&*fetched.before, &*fetched.head)) return fetched.before;
  git_commit* raw = nullptr;
  if (git_commit_lookup(&raw, repo, &*fetched.head) < 0) return std::nullopt;
  CommitPtr head(raw);
  if (git_commit_parentcount(raw) == 0) return std::nullopt;
  return *git_commit_parent_id(raw, 0);
}

}  // namespace

Result<RelaySource> FetchForRelay(const SharedFetchRequest& request, const RemoteCredentials& creds, size_t max_bytes) {
  std::shared_ptr<Store> store = StoreOf(request.store_dir);
  std::lock_guard<std::mutex> lock(store->mu);  // no consolidation moves packs while this reads them
  auto fetched = FetchLocked(*store, request, creds);
  if (!fetched.ok()) return fetched.status();
  RelaySource out;
  out.head = fetched->head;
  if (!out.head) return out;
  auto repo = OpenStore(request.store_dir);
  if (!repo.ok()) return repo.status();
  out.base = RelayBase(repo->get(), *fetched);
  auto pack = BuildRelayPack(repo->get(), out.base ? &*out.base : nullptr, *out.head, max_bytes);
  if (!pack.ok()) return pack.status().WithContext("shared object store " + request.store_dir);
  out.pack = std::move(*pack);
  return out;
}

Status AcceptRelayedHead(const SharedFetchRequest& request, const std::optional<git_oid>& base, const git_oid& commit,
                         std::string_view pack) {
  std::shared_ptr<Store> store = StoreOf(request.store_dir);
  std::lock_guard<std::mutex> lock(store->mu);
  auto key = std::make_pair(request.connector, request.branch);
  auto known = store->known.find(key);
  if (known == store->known.end()) return Status::Unavailable("no head of " + request.branch + " is known here yet");
  auto repo = OpenStore(request.store_dir);
  if (!repo.ok()) return repo.status();
  git_odb* raw = nullptr;
  if (int rc = git_repository_odb(&raw, repo->get()); rc < 0) return GitError(rc, "cannot open " + request.store_dir);
  OdbPtr odb(raw);
  if (git_odb_exists(raw, &commit) != 1) {
    if (base && git_odb_exists(raw, &*base) != 1) return Status::Unavailable("the store does not hold its base " + OidHex(*base));
    if (Status s = IndexRelayPack(request.store_dir, pack); !s.ok()) return s;
    git_odb_refresh(raw);
  }
  git_commit* c = nullptr;
  if (int rc = git_commit_lookup(&c, repo->get(), &commit); rc < 0) return GitError(rc, "relayed commit");
  CommitPtr relayed(c);
  // Never backwards: an older or unrelated commit (a replayed record) is not taken.
  if (!git_oid_equal(&commit, &known->second) && git_graph_descendant_of(repo->get(), &commit, &known->second) != 1) {
    return Status::Conflict("relayed commit " + OidHex(commit) + " does not descend from the known head " +
                            OidHex(known->second));
  }
  store->last[key] = {request.not_before, commit, known->second};
  known->second = commit;
  odb.reset();
  relayed.reset();
  repo->reset();
  Written(*store, request.store_dir);
  return Status::Ok();
}

}  // namespace gitsyncd

namespace gitsyncd {

void MaintainSharedStore(const std::string& store_dir) {
  std::shared_ptr<Store> store = StoreOf(store_dir);
  // A fetch holding the lock is followed by the pass that asked for it, whose end comes here
  // again: no pass waits for another's fetch only to find nothing to do.
  std::unique_lock<std::mutex> lock(store->mu, std::try_to_lock);
  if (!lock.owns_lock() || !store->written) return;
  store->written = false;
  Consolidate(store_dir);
}

}  // namespace gitsyncd
