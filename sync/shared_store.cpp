#include "sync/shared_store.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "sync/git_handles.h"
#include "sync/object_buffer.h"
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
  };
  std::map<std::pair<std::string, std::string>, Last> last;  // (connector, branch)
  std::map<std::pair<std::string, std::string>, git_oid> known;  // KnownSharedHead
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
    // The store's config holds the bindings' ignore settings, written once by the first
    // matcher (sync/ignore_matcher.cpp); a kill -9 during that write leaves its lock, which
    // would fail every later write. Nothing in this process wrote the store yet, and only
    // this daemon writes its state dir: a lock here now is stale.
    std::error_code ec;
    fs::remove(dir + "/config.lock", ec);
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

Result<std::optional<git_oid>> SharedFetch(const SharedFetchRequest& request, const RemoteCredentials& creds) {
  std::shared_ptr<Store> store = StoreOf(request.store_dir);
  std::lock_guard<std::mutex> lock(store->mu);
  auto key = std::make_pair(request.connector, request.branch);
  auto last = store->last.find(key);
  if (request.not_before != Clock::time_point{} && last != store->last.end() &&
      last->second.started >= request.not_before) {
    return last->second.head;
  }
  auto repo = OpenStore(request.store_dir);
  if (!repo.ok()) return repo.status();
  auto started = Clock::now();
  auto head = FetchBranch(repo->get(), creds, request.branch);
  if (!head.ok()) return head.status();
  store->last[key] = {started, *head};
  if (*head) store->known[key] = **head;
  else store->known.erase(key);
  repo->reset();
  // Under the store's lock: no fetch writes a pack meanwhile. A failure only delays it.
  auto maintained = ConsolidateSharedStore(request.store_dir);
  if (!maintained.ok()) spdlog::warn("shared object store {}: {}", request.store_dir, maintained.status().message());
  return head;
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
  auto maintained = ConsolidateSharedStore(request.store_dir);
  if (!maintained.ok()) spdlog::warn("shared object store {}: {}", request.store_dir, maintained.status().message());
  return Status::Ok();
}

}  // namespace gitsyncd
