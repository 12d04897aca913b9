// The "Test" button: resolve the URL, authenticate, list the remote refs and check the
// branch, with one clear verdict per kind of failure.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "sync/remote_auth.h"

namespace gitsyncd {

struct ConnectionReport {
  std::string url;
  size_t ref_count = 0;
  std::string branch_head;  // hex id of refs/heads/<branch>
};

// OK: the branch exists. Errors: authentication (kPermissionDenied), host key / TLS
// (kPermissionDenied), no such repository (kNotFound), no such branch (kNotFound, listing a
// few existing branches), unreachable (kUnavailable).
Result<ConnectionReport> CheckConnection(const RemoteCredentials& creds, const std::string& branch);

}  // namespace gitsyncd
