// Network operations on a binding's own repository: fetch one branch, push refspecs
// (never forced), list remote refs. All use RemoteAuth for credentials and identity checks.
#pragma once

#include <git2.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "sync/remote_auth.h"

namespace gitsyncd {

// Fetches `branch` into refs/remotes/origin/<branch>. Returns the remote head, or nullopt
// when the branch does not exist on the remote (an empty repository, a new branch).
Result<std::optional<git_oid>> FetchBranch(git_repository* repo, const RemoteCredentials& creds,
                                           const std::string& branch);

// Pushes "<local oid>:<remote ref>" updates without force. A rejected update (the remote
// moved: non-fast-forward) is Status::Conflict, so the caller fetches and merges again.
// Every remote moves a ref only if it still holds the value the push was planned on; a
// file:// remote gets that from `git receive-pack` (sync/receive_pack.h).
struct RefUpdate {
  git_oid commit;
  std::string remote_ref;  // "refs/heads/main"
};
Status PushRefs(git_repository* repo, const RemoteCredentials& creds, const std::vector<RefUpdate>& updates);

// Deletes `branch` on the remote (a push of ":refs/heads/<branch>"); a branch the remote does
// not have is already deleted.
Status DeleteRemoteBranch(git_repository* repo, const RemoteCredentials& creds, const std::string& branch);

// Test-only: runs inside every later push, after the remote's refs were read and before any
// of them is updated, so a test can move the remote branch in exactly that window. Empty
// (the default) turns it off.
void SetPushRaceHookForTesting(std::function<void()> hook);

struct RemoteRef {
  std::string name;
  std::string oid;
};
Result<std::vector<RemoteRef>> ListRemoteRefs(const RemoteCredentials& creds);

}  // namespace gitsyncd
