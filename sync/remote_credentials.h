// Turns a connector's auth settings and secret references into the credentials libgit2 uses.
#pragma once

#include <string>

#include "config/config.h"
#include "config/secret_store.h"
#include "sync/remote_auth.h"

namespace gitsyncd {

// `store` may be null when no master key exists; {secret:} references then fail clearly.
Result<RemoteCredentials> ResolveRemoteCredentials(const Config& config, const ConnectorConfig& connector,
                                                   const std::string& url, const SecretStore* store);

}  // namespace gitsyncd
