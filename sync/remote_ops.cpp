#include "sync/remote_ops.h"

#include <algorithm>
#include <mutex>

#include "sync/git_handles.h"
#include "sync/pass_timer.h"
#include "sync/receive_pack.h"

namespace gitsyncd {
namespace {

std::mutex g_hook_mutex;
std::function<void()> g_push_race_hook;

// After the remote's refs were read, before the pack is built.
int OnPushNegotiation(const git_push_update**, size_t, void*) {
  MarkPassStep("push: connect and refs");
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(g_hook_mutex);
    hook = g_push_race_hook;
  }
  if (hook) hook();
  return 0;
}

// An anonymous remote for `url`: nothing is written to the repository's config. The URL is
// used as configured: `url.<base>.insteadOf` rules of the repository's or the daemon user's
// Git config are not applied. Looking them up matches a regular expression against every
// config entry, and libgit2 1.5.1 leaks about 20 KB of PCRE2 match data on each entry that
// does not match (libgit2 pull request #6382, fixed after 1.5): a few hundred KB per fetch or
// push, without bound in a daemon (tests/sync/remote_ops_test.cpp).
Status OpenAnonymousRemote(git_repository* repo, const std::string& url, RemotePtr* out) {
  git_remote* raw = nullptr;
  git_remote_create_options opts = GIT_REMOTE_CREATE_OPTIONS_INIT;
  opts.repository = repo;
  opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
  int rc = git_remote_create_with_opts(&raw, url.c_str(), &opts);
  if (rc < 0) return GitError(rc, "cannot use remote URL " + url);
  out->reset(raw);
  return Status::Ok();
}

// The credentials, certificate check and extra HTTP headers of `auth`, on fetch or push options.
template <typename Options>
void UseAuth(RemoteAuth& auth, Options* opts) {
  auth.Install(&opts->callbacks);
  if (auth.headers() != nullptr) opts->custom_headers = *auth.headers();
}

}  // namespace

void SetPushRaceHookForTesting(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(g_hook_mutex);
  g_push_race_hook = std::move(hook);
}

Result<std::optional<git_oid>> FetchBranch(git_repository* repo, const RemoteCredentials& creds,
                                           const std::string& branch) {
  RemotePtr remote;
  if (Status s = OpenAnonymousRemote(repo, creds.url, &remote); !s.ok()) return s;
  RemoteAuth auth(creds);
  git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
  UseAuth(auth, &opts);
  opts.prune = GIT_FETCH_NO_PRUNE;
  opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  opts.update_fetchhead = 0;
  // Ask for the branch only if it exists: fetching a missing ref is an error in libgit2.
  int rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &opts.callbacks, &opts.proxy_opts, auth.headers());
  if (rc < 0) return auth.Explain(rc, "fetch from " + creds.url);
  const git_remote_head** heads = nullptr;
  size_t count = 0;
  rc = git_remote_ls(&heads, &count, remote.get());
  if (rc < 0) return auth.Explain(rc, "list refs of " + creds.url);
  MarkPassStep("fetch: connect and refs");
  std::string want = "refs/heads/" + branch;
  const git_remote_head* found = nullptr;
  for (size_t i = 0; i < count; ++i) {
    if (want == heads[i]->name) found = heads[i];
  }
  if (found == nullptr) return std::optional<git_oid>();
  git_oid head = found->oid;
  // The head is a commit we already hold (our own push, or an unchanged branch): skip the
  // negotiation round trip. A commit in the repository has all its objects (we never write
  // a commit before its tree and blobs, and fetches land whole packs).
  git_commit* have = nullptr;
  bool held = git_commit_lookup(&have, repo, &head) == 0;
  CommitPtr held_commit(have);
  if (!held) {
    std::string spec = "+" + want + ":refs/remotes/origin/" + branch;
    char* specs[] = {spec.data()};
    git_strarray refspecs = {specs, 1};
    rc = git_remote_download(remote.get(), &refspecs, &opts);
    if (rc < 0) return auth.Explain(rc, "fetch from " + creds.url);
    MarkPassStep("fetch: download");
  }
  // Everything is downloaded: a failed goodbye to the server changes nothing we hold.
  if (git_remote_disconnect(remote.get()) < 0) git_error_clear();
  MarkPassStep("fetch: close");
  // Record the remote-tracking ref ourselves (an anonymous remote does not update refs).
  git_reference* ref = nullptr;
  rc = git_reference_create(&ref, repo, ("refs/remotes/origin/" + branch).c_str(), &head, 1, "gitsyncd fetch");
  if (rc < 0) return GitError(rc, "cannot record fetched head");
  ReferencePtr recorded(ref);
  return std::optional<git_oid>(head);
}

namespace {

// Pushes refspecs (none forced) to creds.url; a refused update is Status::Conflict.
Status PushSpecs(git_repository* repo, const RemoteCredentials& creds, std::vector<std::string> specs) {
  RemotePtr remote;
  if (Status s = OpenAnonymousRemote(repo, creds.url, &remote); !s.ok()) return s;
  RemoteAuth auth(creds);
  git_push_options opts = GIT_PUSH_OPTIONS_INIT;
  UseAuth(auth, &opts);
  opts.callbacks.push_negotiation = OnPushNegotiation;
  // libgit2's own local transport would overwrite the remote ref unchecked.
  if (IsFileUrl(creds.url)) opts.callbacks.transport = ReceivePackTransport;
  std::vector<char*> ptrs;
  for (auto& s : specs) ptrs.push_back(s.data());
  git_strarray refspecs = {ptrs.data(), ptrs.size()};
  int rc = git_remote_push(remote.get(), &refspecs, &opts);
  MarkPassStep("push: close");
  if (rc < 0) {
    Status s = auth.Explain(rc, "push to " + creds.url);
    if (rc == GIT_ENONFASTFORWARD || s.message().find("non-fast-forward") != std::string::npos ||
        s.message().find("cannot push because a reference that you are trying to update on the remote contains "
                         "commits that are not present locally") != std::string::npos) {
      return Status::Conflict("push to " + creds.url + " rejected: the remote branch moved");
    }
    return s;
  }
  if (!auth.rejected_refs().empty()) {
    // Most refusals mean the branch moved (non-fast-forward, a lost race for the ref lock);
    // the caller fetches, merges and tries again a bounded number of times, and reports the
    // server's reason if it keeps refusing (a protected branch, a hook).
    std::string all;
    for (const auto& r : auth.rejected_refs()) all += (all.empty() ? "" : "; ") + r;
    return Status::Conflict("push to " + creds.url + " rejected: " + all);
  }
  return Status::Ok();
}

}  // namespace

Status PushRefs(git_repository* repo, const RemoteCredentials& creds, const std::vector<RefUpdate>& updates) {
  std::vector<std::string> specs;
  for (const auto& u : updates) {
    // Temporary refs make the local side of the refspec: refs/gitsyncd/push/N.
    std::string local = "refs/gitsyncd/push/" + std::to_string(specs.size());
    git_reference* ref = nullptr;
    int rc = git_reference_create(&ref, repo, local.c_str(), &u.commit, 1, "gitsyncd push");
    if (rc < 0) return GitError(rc, "cannot prepare push");
    ReferencePtr prepared(ref);
    specs.push_back(local + ":" + u.remote_ref);  // no '+': never forced
  }
  return PushSpecs(repo, creds, std::move(specs));
}

Status DeleteRemoteBranch(git_repository* repo, const RemoteCredentials& creds, const std::string& branch) {
  auto refs = ListRemoteRefs(creds);
  if (!refs.ok()) return refs.status();
  std::string ref = "refs/heads/" + branch;
  bool present = std::any_of(refs->begin(), refs->end(), [&](const RemoteRef& r) { return r.name == ref; });
  if (!present) return Status::Ok();  // deleted already (by a person, or an earlier try)
  return PushSpecs(repo, creds, {":" + ref});
}

Result<std::vector<RemoteRef>> ListRemoteRefs(const RemoteCredentials& creds) {
  EnsureLibgit2();
  git_remote* raw = nullptr;
  int rc = git_remote_create_detached(&raw, creds.url.c_str());
  if (rc < 0) return GitError(rc, "cannot use remote URL " + creds.url);
  RemotePtr remote(raw);
  RemoteAuth auth(creds);
  git_remote_callbacks callbacks = GIT_REMOTE_CALLBACKS_INIT;
  auth.Install(&callbacks);
  rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &callbacks, nullptr, auth.headers());
  if (rc < 0) return auth.Explain(rc, "connect to " + creds.url);
  const git_remote_head** heads = nullptr;
  size_t count = 0;
  rc = git_remote_ls(&heads, &count, remote.get());
  if (rc < 0) return auth.Explain(rc, "list refs of " + creds.url);
  std::vector<RemoteRef> refs;
  for (size_t i = 0; i < count; ++i) refs.push_back({heads[i]->name, OidHex(heads[i]->oid)});
  return refs;
}

}  // namespace gitsyncd
