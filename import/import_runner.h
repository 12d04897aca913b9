// Importing existing remote repositories as connectors (`gitsyncd import`, and import jobs
// in the daemon): lists an account connector's repositories through the provider API, then
// writes one connector file per repository into <state_dir>/imports.d (writable under the
// unit's sandbox, unlike the config directory) under a temporary name, links it into place only
// if the name is free (never overwriting), and validates the whole config with it (a file
// that does not validate is removed again). Cancel is checked between repositories, so a
// canceled import leaves nothing half-written.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "config/config.h"
#include "config/secret_store.h"
#include "base/status.h"

namespace gitsyncd {

struct ImportRequest {
  std::string connector, repo, name, branch, path, local, local_root, direction = "bidirectional";
  bool all = false;
};

struct ImportProgress {
  std::string state = "scheduled";  // scheduled, started, finished, failed, canceled
  size_t total = 0, done = 0, imported = 0, skipped = 0;
  std::vector<std::string> lines;  // "imported ..." / "skipped ...: why", in order
  std::string error;               // when failed
};

// Checks the request against the config; the error says what is missing.
Status ValidateImportRequest(const Config& config, const ImportRequest& request);

// Runs an import; `on_progress` is called after the listing and after each repository.
ImportProgress RunImport(const Config& config, const SecretStore* store, const ImportRequest& request,
                         const std::atomic<bool>& cancel, const std::function<void(const ImportProgress&)>& on_progress);

boost::json::object ToJson(const ImportRequest& r);
Result<ImportRequest> ImportRequestFromJson(const boost::json::value& v);
boost::json::object ToJson(const ImportProgress& p);
ImportProgress ImportProgressFromJson(const boost::json::value& v);

}  // namespace gitsyncd
