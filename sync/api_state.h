// What a `fetch: api` binding knows about the remote, in <binding_dir>/api-head.json. In this
// mode the binding's repository never holds the remote's commits: a fetch records a snapshot
// commit whose tree holds just the folder, and a write through the API creates a remote commit
// we never download. This file ties the two together:
//   - the branch head last seen (fetched or written by us) and the local commit standing for
//     it, so an unchanged head costs one request and our own write is not fetched back;
//   - for recent local commits (snapshots, commits written through the API), the remote
//     commit each stands for, so a later write can name its parent on the remote.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace gitsyncd {

struct ApiState {
  std::string remote_commit;  // the branch head at the last fetch or write
  std::string snapshot;       // the local commit whose folder equals remote_commit's folder
  std::vector<std::pair<std::string, std::string>> known;  // local commit -> remote commit, oldest first

  // The remote commit `local` stands for; "" when not known.
  std::string RemoteOf(const std::string& local) const;
  // Records that `local` stands for `remote` (the oldest entries are forgotten past a bound).
  void Remember(const std::string& local, const std::string& remote);
  // The head moved to `remote`, which `local` stands for.
  void SetHead(const std::string& local, const std::string& remote);
};

// A missing or unreadable file is an empty state (the next pass fetches everything again).
ApiState LoadApiState(const std::string& binding_dir);
Status SaveApiState(const std::string& binding_dir, const ApiState& state);

}  // namespace gitsyncd
