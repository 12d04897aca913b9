// `fetch: api`: the binding's folder read through the provider's REST API and stored in the
// binding's own repository as a snapshot commit (its tree holds just the folder at `path`),
// so the rest of a pass treats it exactly like a fetched branch: same merge rules, same
// YAML checks, same atomic, never-overwrite-unsynced-edits writes to the folder.
//   - The branch head is asked first (one request); unchanged -> the last snapshot, nothing
//     else is fetched.
//   - Only files whose blob id is not already in the repository are downloaded, each streamed
//     to a temp file and checked against its id before use.
//   - Symlinks and submodules are reported and skipped; unsafe paths fail the fetch.
#pragma once

#include <git2.h>

#include <optional>
#include <string>
#include <vector>

#include "api/provider_api.h"
#include "base/status.h"

namespace gitsyncd {

struct ApiFetchResult {
  std::optional<git_oid> snapshot;  // nullopt: the branch does not exist
  size_t downloaded = 0;            // files fetched this time
  std::vector<std::string> warnings;
};

// Changed files are downloaded over up to `parallel` connections at once (each with its own
// reader of `target`), then stored and checked one by one.
Result<ApiFetchResult> FetchFolderViaApi(git_repository* repo, const std::string& binding_dir, const ApiTarget& target,
                                         const std::string& branch, const std::string& path, unsigned parallel = 8);

}  // namespace gitsyncd
