// `fetch: api` write-back: the commits a pass would push with Git (PushRefs in
// sync/remote_ops.h) are written through the provider's commit API instead, never a clone.
// Each commit of the binding's repository is sent as its folder's changes (added, modified,
// deleted files) against its first parent, applied on the remote commit that parent stands
// for; the synced branch moves only if it is still there (Status::Conflict otherwise, like a
// rejected push: the pass fetches, merges and writes again). A new branch (a conflict branch)
// is created at that remote commit with the changes committed onto it. The new remote head
// is recorded (sync/api_state.h) so the next pass's head check sees our own commit as known.
#pragma once

#include <git2.h>

#include <string>
#include <vector>

#include "api/provider_api.h"
#include "config/config.h"
#include "base/status.h"
#include "sync/remote_ops.h"

namespace gitsyncd {

struct ApiPushTarget {
  ApiTarget api;
  std::string binding_dir;
  std::string branch;  // the synced branch; other refs in the updates are new branches
  std::string path;    // the folder inside the repository; "" = root
  CommitAuthor author;
};

// Writes `updates` in order (the synced branch first, as the pass lists them).
Status PushViaApi(git_repository* repo, const ApiPushTarget& target, const std::vector<RefUpdate>& updates);

}  // namespace gitsyncd
